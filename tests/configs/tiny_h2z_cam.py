# tiny_h2z for 2 iterations with the CAM panel hook every 2 iterations (what --tensorboard
# shows as images).
from mmengine.config import read_base

with read_base():
    from .tiny_h2z import *

train_cfg.merge(dict(max_iters=2))
custom_hooks = [dict(type='NICEGANCAMVisualizationHook', interval=2, num_samples=2)]

# The quickstart's recipe: the paper recipe's pipeline kinds, optimiser, schedule shape and
# runtime with a small NICE-GAN (16 channels, 2 blocks) at 64 px, batch 4, 600 iterations,
# trainable on a CPU in a few minutes. A config on it names its data set as on the paper
# recipe (configs/nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py).
from mmengine.config import read_base

with read_base():
    from .nicegan_light_1xb1_100kiters import *

img_size = 64
load_size = img_size + 8  # resize to img_size + 8 (not + 30) before the random crop
model.merge(dict(
    generator=dict(base_channels=16, num_blocks=2),
    discriminator=dict(base_channels=16, num_layers=6)))
train_cfg.merge(dict(max_iters=600, val_interval=100000))
train_dataloader.merge(dict(batch_size=4, num_workers=0, persistent_workers=False))
val_dataloader.merge(dict(batch_size=4, num_workers=0, persistent_workers=False))
test_dataloader.merge(dict(batch_size=4, num_workers=0, persistent_workers=False))
default_hooks.merge(dict(
    logger=dict(interval=20), checkpoint=dict(interval=200, max_keep_ckpts=2)))
custom_hooks = [dict(type='NICEGANCAMVisualizationHook', interval=200, num_samples=4)]

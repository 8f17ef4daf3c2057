# Baseline for the quickstart: a small MMagic CycleGAN on the built-in toy set
# (tools/make_toy_dataset.py), trained, tested and evaluated exactly like
# ../nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py (same data, 64 px pipeline,
# data preprocessor, batch 4, 600 iterations, schedule shape, FID/KID, checkpoints,
# runtime). Networks scaled down like the NICE-GAN toy model's (base channels 16, 2 blocks).
from mmengine.config import read_base

with read_base():
    from nicegan_plugin.configs.nicegan_light_tiny_1xb4_600iters import *
    from nicegan_plugin.configs.cyclegan_lsgan_resnet_in_baseline import *

domain_a, domain_b = 'day', 'night'  # trainA/testA hold domain_a
data_root = 'data/toy_day2night'
num_test_a, num_test_b = 8, 8  # test-set sizes: FID/KID use all translated images
model.merge(dict(generator=dict(base_channels=16, num_blocks=2),
                 discriminator=dict(base_channels=16)))
custom_hooks[0]['interval'] = 200

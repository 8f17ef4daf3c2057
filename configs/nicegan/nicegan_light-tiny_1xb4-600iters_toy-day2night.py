# The quickstart: a small NICE-GAN on the built-in toy set (tools/make_toy_dataset.py),
# 64 px, trainable on a CPU in a few minutes. Everything else is the paper config's (same
# pipeline kinds, optimiser, schedule shape, runtime):
# nicegan_plugin/configs/nicegan_light_tiny_1xb4_600iters.py
from mmengine.config import read_base

with read_base():
    from nicegan_plugin.configs.nicegan_light_tiny_1xb4_600iters import *

domain_a, domain_b = 'day', 'night'  # trainA/testA hold domain_a
data_root = 'data/toy_day2night'
num_test_a, num_test_b = 8, 8  # test-set sizes: FID/KID use all translated images

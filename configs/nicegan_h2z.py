# NICE-GAN (light, the paper's setting) on horse2zebra, 256 px, batch 1, 100k iterations:
# the paper recipe and this data set's values (everything that follows from them is
# worked out when the config is built). Full name:
# configs/nicegan/nicegan_light_1xb1-100kiters_horse2zebra.py
from mmengine.config import read_base

with read_base():
    from nicegan_plugin.configs.nicegan_light_1xb1_100kiters import *

domain_a, domain_b = 'horse', 'zebra'  # trainA/testA hold domain_a
data_root = 'data/horse2zebra'
num_test_a, num_test_b = 120, 140  # test-set sizes: FID/KID use all translated images

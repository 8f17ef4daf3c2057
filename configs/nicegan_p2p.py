# NICE-GAN (light, the paper's setting) on photo2portrait, 256 px, batch 1, 100k iterations:
# the paper recipe and this data set's values (everything that follows from them is
# worked out when the config is built). Full name:
# configs/nicegan/nicegan_light_1xb1-100kiters_photo2portrait.py
from mmengine.config import read_base

with read_base():
    from nicegan_plugin.configs.nicegan_light_1xb1_100kiters import *

domain_a, domain_b = 'photo', 'portrait'  # trainA/testA hold domain_a
data_root = 'data/photo2portrait'
# photo<->portrait (DRIT) is not among the paper's benchmarks. Its test-set sizes are
# not fixed here: -1 makes the metrics count testA/testB at run time.
num_test_a, num_test_b = -1, -1

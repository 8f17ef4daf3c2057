# NICE-GAN (light, the paper's setting) on vangogh2photo, 256 px, batch 1, 100k iterations:
# the paper recipe and this data set's values (everything that follows from them is
# worked out when the config is built). Full name:
# configs/nicegan/nicegan_light_1xb1-100kiters_vangogh2photo.py
from mmengine.config import read_base

with read_base():
    from nicegan_plugin.configs.nicegan_light_1xb1_100kiters import *

domain_a, domain_b = 'vangogh', 'photo'  # trainA/testA hold domain_a
data_root = 'data/vangogh2photo'
num_test_a, num_test_b = 400, 751  # test-set sizes: FID/KID use all translated images

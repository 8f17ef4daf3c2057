# NICE-GAN (light, the paper's setting) on vangogh2photo, 256 px, batch 1, 100k iterations.
# The data set's values are in its short entry point, configs/nicegan_v2p.py.
from mmengine.config import read_base

with read_base():
    from ..nicegan_v2p import *

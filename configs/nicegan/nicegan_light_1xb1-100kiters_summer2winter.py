# NICE-GAN (light, the paper's setting) on summer2winter, 256 px, batch 1, 100k iterations.
# The data set's values are in its short entry point, configs/nicegan_s2w.py.
from mmengine.config import read_base

with read_base():
    from ..nicegan_s2w import *

# NICE-GAN (light, the paper's setting) on horse2zebra, 256 px, batch 1, 100k iterations.
# The data set's values are in its short entry point, configs/nicegan_h2z.py.
from mmengine.config import read_base

with read_base():
    from ..nicegan_h2z import *

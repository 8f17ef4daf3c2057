# NICE-GAN with the full (non-light) generator: the MLP reads the flattened 64x64x256
# features (276M parameters per generator, 97% in one Linear). Needs a GPU with
# >= 24 GB; the paper's numbers are for the light variant.
from mmengine.config import read_base

with read_base():
    from ..nicegan_p2p import *

model.generator.light = False

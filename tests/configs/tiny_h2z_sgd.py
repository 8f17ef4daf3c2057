# tiny_h2z with SGD: linear in the gradients, so a wrong gradient reduction across
# processes cannot hide behind Adam's normalisation.
from mmengine.config import read_base

with read_base():
    from .tiny_h2z import *

optim_wrapper.generators.optimizer = dict(type='SGD', lr=0.002, weight_decay=1e-4)
optim_wrapper.discriminators.optimizer = dict(type='SGD', lr=0.002, weight_decay=1e-4)

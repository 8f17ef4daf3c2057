# Baseline: MMagic's CycleGAN on photo2portrait, trained, tested and evaluated exactly like
# ../nicegan/nicegan_light_1xb1-100kiters_photo2portrait.py (same data, pipeline, data preprocessor,
# FID/KID metrics, checkpoints, schedule shape, batch 1, 100k iterations, runtime), so that
# tools/train.py, tools/test.py and tools/compare.py numbers compare. Only the model, its
# optimiser settings (the CycleGAN paper's), the distributed wrapper and the visualisation
# hook differ (NICE-GAN's CAM panel needs its encoder):
# nicegan_plugin/configs/cyclegan_lsgan_resnet_in_baseline.py.
from mmengine.config import read_base

with read_base():
    from ..nicegan_p2p import *
    from nicegan_plugin.configs.cyclegan_lsgan_resnet_in_baseline import *

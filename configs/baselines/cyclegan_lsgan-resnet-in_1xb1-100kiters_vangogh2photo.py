# Baseline: MMagic's CycleGAN on vangogh2photo, trained, tested and evaluated exactly like
# ../nicegan/nicegan_light_1xb1-100kiters_vangogh2photo.py (same data, pipeline, data preprocessor,
# FID/KID metrics, checkpoints, schedule shape, batch 1, 100k iterations, runtime), so that
# tools/train.py, tools/test.py and tools/compare.py numbers compare. Only the model, its
# optimiser settings (the CycleGAN paper's), the distributed wrapper and the visualisation
# hook differ (NICE-GAN's CAM panel needs its encoder): configs/_base_/config_helpers.py.
_base_ = ['../nicegan/nicegan_light_1xb1-100kiters_vangogh2photo.py',
          '../_base_/models/cyclegan_lsgan-resnet-in.py']
vars().update(__import__('runpy').run_path('{{ fileDirname }}/../_base_/config_helpers.py')[
    'cyclegan_baseline'](_base_))

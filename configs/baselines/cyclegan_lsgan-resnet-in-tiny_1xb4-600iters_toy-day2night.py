# Baseline for the quickstart: a small MMagic CycleGAN on the built-in toy set
# (tools/make_toy_dataset.py), trained, tested and evaluated exactly like
# ../nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py (same data, 64 px pipeline,
# data preprocessor, batch 4, 600 iterations, schedule shape, FID/KID, checkpoints,
# runtime). Networks scaled down like the NICE-GAN toy model's (base channels 16, 2 blocks).
_base_ = ['../nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py',
          '../_base_/models/cyclegan_lsgan-resnet-in.py']
vars().update(__import__('runpy').run_path('{{ fileDirname }}/../_base_/config_helpers.py')[
    'cyclegan_baseline'](_base_, vis_interval=200,
                         generator=dict(base_channels=16, num_blocks=2),
                         discriminator=dict(base_channels=16)))

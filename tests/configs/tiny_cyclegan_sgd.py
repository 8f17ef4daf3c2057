# The toy CycleGAN baseline (configs/baselines/cyclegan_lsgan-resnet-in-tiny_1xb4-600iters_
# toy-day2night.py: the tiny recipe, the baseline and the toy set), tiny and deterministic
# (the test pipeline in training: no random flip or crop; A and B paired by index; no image
# pool), with SGD (linear in the gradients): 2 processes x batch 1 must equal 1 process x
# batch 2; a missing all-reduce shows at once.
from mmengine.config import read_base

with read_base():
    from nicegan_plugin.configs.nicegan_light_tiny_1xb4_600iters import *
    from nicegan_plugin.configs.cyclegan_lsgan_resnet_in_baseline import *

domain_a, domain_b = 'day', 'night'
data_root = 'data/toy_day2night'
num_test_a, num_test_b = 8, 8
model.merge(dict(generator=dict(base_channels=8, num_blocks=1),
                 discriminator=dict(base_channels=8), buffer_size=0))
train_dataloader.merge(dict(
    batch_size=1, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(test_mode=True, pipeline=[
        dict(type='LoadImageFromFile', key='img_A', color_type='color'),
        dict(type='LoadImageFromFile', key='img_B', color_type='color'),
        dict(type='Resize', keys=['img_A', 'img_B'], scale=(img_size, img_size),
             keep_ratio=False, interpolation='bilinear', backend='pillow')])))
optim_wrapper.generators.optimizer = dict(type='SGD', lr=0.01)
optim_wrapper.discriminators.optimizer = dict(type='SGD', lr=0.01)
train_cfg.merge(dict(max_iters=4))
default_hooks.merge(dict(logger=dict(interval=1), checkpoint=dict(interval=2)))
custom_hooks = []
val_evaluator.merge(dict(metrics=[]))

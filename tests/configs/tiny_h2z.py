# The real horse2zebra config with a tiny model at 64 px and a deterministic pipeline
# (no random flip/crop, A and B paired by index), so that runs can be compared exactly.
# Training reads trainA/trainB (pair_by_index replaces the random B image). The pipeline
# is written on MMagic's img_A/img_B keys: the domains' key mapping and PackInputs are
# appended when the config is built (nicegan_plugin/engine/config/derived_keys.py).
from mmengine.config import read_base

with read_base():
    from ...configs.nicegan_h2z import *

img_size = 64
model.merge(dict(
    generator=dict(base_channels=8, num_blocks=1, img_size=img_size),
    discriminator=dict(base_channels=8, num_layers=6)))
deterministic_pipeline = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(type='Resize', keys=['img_A', 'img_B'], scale=(img_size, img_size),
         keep_ratio=False, interpolation='bilinear', backend='pillow')]
train_dataloader.merge(dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pair_by_index=True, pipeline=deterministic_pipeline)))
val_dataloader.merge(dict(num_workers=0, persistent_workers=False,
                          dataset=dict(pipeline=deterministic_pipeline)))
test_dataloader.merge(dict(num_workers=0, persistent_workers=False,
                           dataset=dict(pipeline=deterministic_pipeline)))
train_cfg.merge(dict(max_iters=4, val_interval=1000))
default_hooks.merge(dict(logger=dict(interval=1), checkpoint=dict(interval=2)))
custom_hooks = []
val_evaluator.merge(dict(metrics=[]))
test_evaluator.merge(dict(metrics=[]))

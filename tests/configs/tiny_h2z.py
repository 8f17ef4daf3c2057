# The real horse2zebra config with a tiny model at 64 px and a deterministic pipeline
# (no random flip/crop, A and B paired by index), so that runs can be compared exactly.
# Training reads trainA/trainB (pair_by_index replaces the random B image).
_base_ = ['../../configs/nicegan_h2z.py']
img_size = 64
model = dict(
    generator=dict(base_channels=8, num_blocks=1, img_size=img_size),
    discriminator=dict(base_channels=8, num_layers=6))
deterministic_pipeline = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(type='Resize', keys=['img_A', 'img_B'], scale=(img_size, img_size),
         keep_ratio=False, interpolation='bilinear', backend='pillow'),
    _base_.key_mapping, _base_.pack_inputs]
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pair_by_index=True, pipeline=deterministic_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(pipeline=deterministic_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=4, val_interval=1000)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
custom_hooks = []
val_evaluator = dict(metrics=[])
test_evaluator = dict(metrics=[])

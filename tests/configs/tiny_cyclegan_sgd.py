# The toy CycleGAN baseline, tiny and deterministic (the test pipeline: no random flip or
# crop; A and B paired by index; no image pool), with SGD (linear in the gradients): 2
# processes x batch 1 must equal 1 process x batch 2; a missing all-reduce shows at once.
_base_ = ['../../configs/baselines/cyclegan_lsgan-resnet-in-tiny_1xb4-600iters_toy-day2night.py']
model = dict(generator=dict(base_channels=8, num_blocks=1),
             discriminator=dict(base_channels=8), buffer_size=0)
train_dataloader = dict(
    batch_size=1, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(test_mode=True, pipeline=_base_.test_pipeline))
optim_wrapper = dict(
    generators=dict(optimizer=dict(_delete_=True, type='SGD', lr=0.01)),
    discriminators=dict(optimizer=dict(_delete_=True, type='SGD', lr=0.01)))
train_cfg = dict(max_iters=4)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
custom_hooks = []
val_evaluator = dict(metrics=[])

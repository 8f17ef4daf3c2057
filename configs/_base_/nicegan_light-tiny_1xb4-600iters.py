# The quickstart's recipe: the paper recipe's pipeline kinds, optimiser, schedule shape and
# runtime with a small NICE-GAN (16 channels, 2 blocks) at 64 px, batch 4, 600 iterations,
# trainable on a CPU in a few minutes. The data-set config
# (configs/nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py) adds its domains.
_base_ = [
    './models/nicegan_light.py',
    './datasets/nicegan_unpaired_256.py',
    './schedules/nicegan_100k.py',
    './nicegan_runtime.py',
]
img_size = 64
model = dict(
    generator=dict(base_channels=16, num_blocks=2, img_size=img_size),
    discriminator=dict(base_channels=16, num_layers=6))
train_cfg = dict(max_iters=600, val_interval=100000)
# resize to img_size + 8 (not + 30) before the random crop
train_pipeline, test_pipeline = __import__('runpy').run_path(
    '{{ fileDirname }}/config_helpers.py')['unpaired_pipelines'](img_size, img_size + 8)
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=200, max_keep_ckpts=2))
custom_hooks = [dict(type='NICEGANCAMVisualizationHook', interval=200, num_samples=4)]

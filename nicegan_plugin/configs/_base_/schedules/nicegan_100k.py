# Official optimisation: Adam(lr 1e-4, betas (0.5, 0.999), L2 weight decay 1e-4) for the
# generators and for the discriminators (which hold the encoders), batch 1, 100k
# iterations, lr constant for the first half then linear decay to 0.
train_cfg = dict(by_epoch=False, max_iters=100000, val_begin=1, val_interval=10000)
# foreach: one call per step for all tensors instead of ~10 per tensor (PyTorch's default
# on CUDA; on CPU the same arithmetic: tools/parity_check.py gives identical errors)
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generators=dict(optimizer=dict(
        type='Adam', lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4, foreach=True)),
    discriminators=dict(optimizer=dict(
        type='Adam', lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4, foreach=True)))
# total_iters=None follows train_cfg.max_iters (so --cfg-options can change both at once)
param_scheduler = dict(type='NICEGANLinearDecayLR', total_iters=None, by_epoch=False)

# MMagic's CycleGAN (LSGAN, ResNet generator, instance norm: MMagic's base_cyclegan.py, the
# CycleGAN paper's networks and optimiser), as variables for the baseline configs, which
# combine them with a NICE-GAN config's data, preprocessor, metrics, checkpoints and runtime
# (configs/baselines/). The networks are MMagic's ResnetGenerator / PatchDiscriminator with
# an init_weights that works inside the model (nicegan_plugin/models/cyclegan_networks.py:
# MMagic 1.2's raises UnboundLocalError 'init_info' on this stack).
cyclegan_model = dict(
    type='CycleGAN',
    generator=dict(
        type='NICEGANFixedInitResnetGenerator', in_channels=3, out_channels=3,
        base_channels=64, norm_cfg=dict(type='IN'), use_dropout=False, num_blocks=9,
        padding_mode='reflect', init_cfg=dict(type='normal', gain=0.02)),
    discriminator=dict(
        type='NICEGANFixedInitPatchDiscriminator', in_channels=3, base_channels=64,
        num_conv=3, norm_cfg=dict(type='IN'), init_cfg=dict(type='normal', gain=0.02)),
    buffer_size=50,
    loss_config=dict(cycle_loss_weight=10., id_loss_weight=0.5))
# CycleGAN paper: Adam lr 2e-4, betas (0.5, 0.999), no weight decay; constant lr for the
# first half, then linear decay to 0 (the shape of the NICE-GAN schedule, which is kept).
cyclegan_optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generators=dict(
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999), weight_decay=0.)),
    discriminators=dict(
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999), weight_decay=0.)))
# CycleGAN does not sync its own gradients (NICEGANDistributedWrapper relies on that for
# NICE-GAN), and MMagic's MMSeparateDistributedDataParallel never runs a DDP forward for it
# (nor builds on a CPU): each gradient is averaged over the ranks after backward instead.
cyclegan_model_wrapper_cfg = dict(type='mmagic.NICEGANGradSyncWrapper')

# What makes a NICE-GAN config an MMagic CycleGAN baseline: import it after the NICE-GAN
# recipe and the data set (configs/baselines/). The model becomes MMagic's CycleGAN (LSGAN,
# ResNet generator, instance norm: MMagic's base_cyclegan.py, the CycleGAN paper's networks
# and optimiser) with NICE-GAN's data preprocessor (its domains are derived as NICE-GAN's);
# the optimisers and the distributed wrapper become CycleGAN's; the CAM panel (it needs
# NICE-GAN's encoder) becomes MMagic's translation visualisation. Everything else (data,
# metrics, checkpoints, schedule, runtime) stays the NICE-GAN config's.
from mmengine.config import read_base

with read_base():
    from ._base_.models.nicegan_light import *  # its data preprocessor

# The networks are MMagic's ResnetGenerator / PatchDiscriminator with an init_weights that
# works inside the model (nicegan_plugin/models/cyclegan_networks.py: MMagic 1.2's raises
# UnboundLocalError 'init_info' on this stack).
model = dict(
    type='CycleGAN',
    data_preprocessor=model.data_preprocessor,
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
optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generators=dict(
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999), weight_decay=0.)),
    discriminators=dict(
        optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999), weight_decay=0.)))
# CycleGAN does not sync its own gradients (NICEGANDistributedWrapper relies on that for
# NICE-GAN), and MMagic's MMSeparateDistributedDataParallel never runs a DDP forward for it
# (nor builds on a CPU): each gradient is averaged over the ranks after backward instead.
model_wrapper_cfg = dict(type='mmagic.NICEGANGradSyncWrapper')
custom_hooks = [dict(type='VisualizationHook', interval=1000, fixed_input=True,
                     vis_kwargs_list=[dict(type='Translation', name='trans'),
                                      dict(type='TranslationVal', name='trans_val')])]

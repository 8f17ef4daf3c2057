# NICE-GAN, light generator (the paper's "NICE-GAN"): ch 64, 6 AdaILN blocks, n_dis 7.
# Domains are set by the dataset config. Inputs are RGB in [-1, 1], as the official
# weights expect (the DataPreprocessor converts mmagic's BGR loading to RGB).
model = dict(
    type='NICEGAN',
    data_preprocessor=dict(
        type='DataPreprocessor', mean=127.5, std=127.5, output_channel_order='RGB'),
    generator=dict(
        type='NICEGANGenerator', out_channels=3, base_channels=64, num_blocks=6,
        img_size=256, light=True),
    discriminator=dict(
        type='NICEGANDiscriminator', in_channels=3, base_channels=64, num_layers=7),
    adv_loss=dict(type='NICEGANAdversarialLoss', gan_type='lsgan', loss_weight=1.0),
    cycle_loss=dict(type='L1Loss', loss_weight=10.0),
    recon_loss=dict(type='L1Loss', loss_weight=10.0),
    default_domain=None,
    reachable_domains=None,
    related_domains=None)

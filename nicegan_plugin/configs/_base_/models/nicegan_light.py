# NICE-GAN, light generator (the paper's "NICE-GAN"): ch 64, 6 AdaILN blocks, n_dis 7.
# Inputs are RGB in [-1, 1], as the official weights expect (the DataPreprocessor converts
# MMagic's BGR loading to RGB). Derived from the data set's values when the config is built:
# the domains (default_domain, reachable_domains, related_domains), the preprocessor's
# data_keys and the generator's img_size.
model = dict(
    type='NICEGAN',
    data_preprocessor=dict(
        type='DataPreprocessor', mean=127.5, std=127.5, output_channel_order='RGB'),
    generator=dict(
        type='NICEGANGenerator', out_channels=3, base_channels=64, num_blocks=6, light=True),
    discriminator=dict(
        type='NICEGANDiscriminator', in_channels=3, base_channels=64, num_layers=7),
    adv_loss=dict(type='NICEGANAdversarialLoss', gan_type='lsgan', loss_weight=1.0),
    cycle_loss=dict(type='L1Loss', loss_weight=10.0),
    recon_loss=dict(type='L1Loss', loss_weight=10.0))

# Baseline for the quickstart: a small MMagic CycleGAN on the built-in toy set
# (tools/make_toy_dataset.py), trained, tested and evaluated exactly like
# ../nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py (same data, 64 px pipeline,
# data preprocessor, batch 4, 600 iterations, schedule shape, FID/KID, checkpoints,
# runtime). Networks scaled down like the NICE-GAN toy model's (base channels 16, 2 blocks).
_base_ = ['../nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py',
          '../_base_/models/cyclegan_lsgan-resnet-in.py']
model = dict(
    _delete_=True,
    **_base_.cyclegan_model,
    data_preprocessor=_base_.model.data_preprocessor,
    default_domain=_base_.model.default_domain,
    reachable_domains=_base_.model.reachable_domains,
    related_domains=_base_.model.related_domains)
model.update(
    generator=dict(_base_.cyclegan_model.generator, base_channels=16, num_blocks=2),
    discriminator=dict(_base_.cyclegan_model.discriminator, base_channels=16))
optim_wrapper = dict(_delete_=True, **_base_.cyclegan_optim_wrapper)
model_wrapper_cfg = dict(_delete_=True, **_base_.cyclegan_model_wrapper_cfg)
custom_hooks = [
    dict(type='VisualizationHook', interval=200, fixed_input=True,
         vis_kwargs_list=[dict(type='Translation', name='trans'),
                          dict(type='TranslationVal', name='trans_val')]),
]

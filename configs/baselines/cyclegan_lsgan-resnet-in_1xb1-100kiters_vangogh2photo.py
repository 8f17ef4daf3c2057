# Baseline: MMagic's CycleGAN on vangogh2photo, trained, tested and evaluated exactly like
# ../nicegan/nicegan_light_1xb1-100kiters_vangogh2photo.py (same data, pipeline, data preprocessor,
# FID/KID metrics, checkpoints, schedule shape, batch 1, 100k iterations, runtime), so that
# tools/train.py, tools/test.py and tools/compare.py numbers compare. Only the model, its
# optimiser settings (the CycleGAN paper's), the distributed wrapper and the visualisation
# hook differ (NICE-GAN's CAM panel needs its encoder).
_base_ = ['../nicegan/nicegan_light_1xb1-100kiters_vangogh2photo.py',
          '../_base_/models/cyclegan_lsgan-resnet-in.py']
model = dict(
    _delete_=True,
    **_base_.cyclegan_model,
    data_preprocessor=_base_.model.data_preprocessor,
    default_domain=_base_.model.default_domain,
    reachable_domains=_base_.model.reachable_domains,
    related_domains=_base_.model.related_domains)
optim_wrapper = dict(_delete_=True, **_base_.cyclegan_optim_wrapper)
model_wrapper_cfg = dict(_delete_=True, **_base_.cyclegan_model_wrapper_cfg)
custom_hooks = [
    dict(type='VisualizationHook', interval=1000, fixed_input=True,
         vis_kwargs_list=[dict(type='Translation', name='trans'),
                          dict(type='TranslationVal', name='trans_val')]),
]

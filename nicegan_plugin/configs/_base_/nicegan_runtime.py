# Runtime for NICE-GAN: MMagic's generation runtime (gen_default_runtime.py) with
# - NICEGANRunner, which works out the keys a data set's values decide when the config is
#   built (nicegan_plugin/engine/config/derived_keys.py); named by its import path, which MMEngine
#   resolves by importing the plugin (for scripts that build RUNNERS.build(cfg)),
# - the distributed backend chosen by the launcher at run time (nccl with GPUs, gloo
#   without; tools/train.py fills it in when it is None),
# - a model wrapper that syncs exactly the gradients each update steps,
# - a guard that stops at the first NaN/Inf loss (max_skips=N undoes up to N bad
#   iterations instead), before anything is logged or saved after it.
runner_type = 'nicegan_plugin.engine.NICEGANRunner'
default_scope = 'mmagic'
custom_imports = dict(imports=['nicegan_plugin'], allow_failed_imports=False)
randomness = dict(seed=2022, diff_rank_seed=True)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # save_best: FID of both directions, derived from the domains (rule 'less': lower is
    # better)
    checkpoint=dict(type='NICEGANCheckpointHook', interval=10000, by_epoch=False,
                    max_keep_ckpts=20, save_optimizer=True, save_last=True, rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    nonfinite=dict(type='NICEGANNonFiniteGuardHook', max_skips=0))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend=None))
log_level = 'INFO'
log_processor = dict(type='LogProcessor', by_epoch=False)
load_from = None
resume = False
# scope prefix: MMEngine's Runner looks wrappers up in its root registry
model_wrapper_cfg = dict(type='mmagic.NICEGANDistributedWrapper')
vis_backends = [dict(type='VisBackend')]
visualizer = dict(type='Visualizer', vis_backends=[dict(type='VisBackend')])
val_cfg = dict(type='MultiValLoop')
# metrics: FID and KID x 100 of both directions, derived from the domains
val_evaluator = dict(type='Evaluator')
test_cfg = dict(type='MultiTestLoop')
test_evaluator = dict(type='Evaluator')

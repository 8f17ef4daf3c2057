"""The config keys that follow from a data set's values, written once for every config here.

Not a config: plain Python (standard library only) that the configs load and call with
``__import__('runpy').run_path('{{ fileDirname }}/<relative path>/config_helpers.py')[name]``.
Why: MMEngine's classic ``_base_`` inheritance merges a child's values into its bases' but
cannot recompute a base's keys from them, and many keys derive from the two domain names (the
key mapping, the metric prefixes, the best-checkpoint names, the model's domains). A function
in a ``_base_`` file does not reach the child (MMEngine drops functions and modules from a
parsed config), and ``read_base()`` configs can neither inherit from nor be inherited by the
classic ones that tests/configs/ and user configs build on. ``{{ fileDirname }}`` is MMEngine's
predefined variable (the config file's folder), so a config loads from any working directory.
``__import__`` rather than an ``import`` line: MMEngine reads a config with an import of a
module outside its own Python installation (``runpy`` of a virtualenv's base Python counts)
as a ``read_base()`` config. Every returned value is a plain dict/list/str/number, so
``Config.dump`` writes a file that loads again without this helper.
"""
from typing import Any, Dict, List, Mapping, Optional, Tuple

Pipeline = List[Dict[str, Any]]


def unpaired_pipelines(img_size: int, load_size: int) -> Tuple[Pipeline, Pipeline]:
    """Train and test pipelines of an unpaired set, as the official code feeds it.

    Train (per domain, independent randomness): horizontal flip -> resize to
    ``(load_size, load_size)`` (PIL bilinear) -> random crop ``img_size``. Test: resize to
    ``(img_size, img_size)``. Keys ``img_A`` / ``img_B``; :func:`unpaired_domains` appends the
    mapping to the domain names and ``PackInputs``.
    """
    load = [dict(type='LoadImageFromFile', key='img_A', color_type='color'),
            dict(type='LoadImageFromFile', key='img_B', color_type='color')]

    def resize(size: int) -> Dict[str, Any]:
        return dict(type='Resize', keys=['img_A', 'img_B'], scale=(size, size),
                    keep_ratio=False, interpolation='bilinear', backend='pillow')

    train = load + [
        dict(type='Flip', keys=['img_A'], direction='horizontal'),
        dict(type='Flip', keys=['img_B'], direction='horizontal'),
        resize(load_size),
        dict(type='Crop', keys=['img_A'], crop_size=(img_size, img_size), random_crop=True),
        dict(type='Crop', keys=['img_B'], crop_size=(img_size, img_size), random_crop=True),
    ]
    test = [dict(step) for step in load] + [resize(img_size)]
    return train, test


def unpaired_domains(base: Mapping[str, Any], *, domain_a: str, domain_b: str, data_root: str,
                     num_test_a: int, num_test_b: int) -> Dict[str, Any]:
    """The keys a two-domain data set decides, merged into ``base`` (the config's ``_base_``).

    Args:
        base: the inherited config; its ``train_pipeline`` / ``test_pipeline`` (from
            :func:`unpaired_pipelines`) and ``inception_path`` (None if absent) are used.
        domain_a, domain_b: domain names (folders ``trainA``/``testA`` hold ``domain_a``);
            the model's inputs are ``img_<domain>``, its default output ``domain_b``.
        data_root: folder with ``trainA``, ``trainB``, ``testA``, ``testB``.
        num_test_a, num_test_b: test-set sizes (FID/KID use all translated images;
            -1 counts the folders at run time).

    Returns:
        The values themselves and ``model`` (domains, data keys), ``key_mapping``,
        ``pack_inputs``, both pipelines, the three dataloaders (data root, pipeline), FID and
        KID x 100 of both directions (``metrics``, both evaluators) and the checkpoint hook's
        best checkpoint per direction by FID (lower is better).
    """
    if not (isinstance(domain_a, str) and isinstance(domain_b, str) and domain_a and domain_b
            and domain_a != domain_b):
        raise ValueError('unpaired_domains: domain_a and domain_b must be two different names '
                         f'(got {domain_a!r} and {domain_b!r})')
    for name, num in (('num_test_a', num_test_a), ('num_test_b', num_test_b)):
        if type(num) is not int or (num < 1 and num != -1):
            raise ValueError(f'unpaired_domains: {name} must be the test-set size (>= 1) or -1 '
                             f'(count the test folder at run time), got {num!r}')
    missing = [k for k in ('train_pipeline', 'test_pipeline') if k not in base]
    if missing:
        raise ValueError(f'unpaired_domains: the config\'s _base_ has no {", ".join(missing)}; '
                         'inherit configs/_base_/datasets/nicegan_unpaired_256.py or a recipe '
                         'built on it')
    keys = [f'img_{domain_a}', f'img_{domain_b}']
    key_mapping = dict(type='KeyMapper', mapping=dict(zip(keys, ['img_A', 'img_B'])),
                       remapping={k: k for k in keys})
    pack_inputs = dict(type='PackInputs', keys=keys, data_keys=keys,
                       meta_keys=['img_A_path', 'img_B_path'])
    train_pipeline = base['train_pipeline'] + [key_mapping, pack_inputs]
    test_pipeline = base['test_pipeline'] + [key_mapping, pack_inputs]
    directions = ((domain_a, domain_b, num_test_a, num_test_b),
                  (domain_b, domain_a, num_test_b, num_test_a))
    metrics = [
        dict(type=metric, prefix=f'{name}-{src}-to-{tgt}', fake_nums=n_src, real_nums=n_tgt,
             real_key=f'img_{tgt}', fake_key=f'fake_{tgt}',
             inception_path=base.get('inception_path'), sample_model='orig')
        for src, tgt, n_src, n_tgt in directions
        for metric, name in (('NICEGANTransFID', 'FID'), ('NICEGANTransKID', 'KID'))]
    val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
    return dict(
        domain_a=domain_a, domain_b=domain_b, data_root=data_root,
        num_test_a=num_test_a, num_test_b=num_test_b,
        model=dict(default_domain=domain_b, reachable_domains=[domain_a, domain_b],
                   related_domains=[domain_a, domain_b],
                   data_preprocessor=dict(data_keys=list(keys))),
        key_mapping=key_mapping, pack_inputs=pack_inputs,
        train_pipeline=train_pipeline, test_pipeline=test_pipeline,
        train_dataloader=dict(dataset=dict(data_root=data_root, pipeline=train_pipeline)),
        val_dataloader=val_dataloader, test_dataloader=val_dataloader,
        metrics=metrics, val_evaluator=dict(metrics=metrics), test_evaluator=dict(metrics=metrics),
        # best_FID-<a>-to-<b>_fid_iter_<n>.pth and best_FID-<b>-to-<a>_fid_iter_<n>.pth
        default_hooks=dict(checkpoint=dict(
            save_best=[f'FID-{s}-to-{t}/fid' for s, t, _, _ in directions], rule='less')))


def cyclegan_baseline(base: Mapping[str, Any], *, vis_interval: int = 1000,
                      generator: Optional[Dict[str, Any]] = None,
                      discriminator: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The keys that make a NICE-GAN config (in ``base``) an MMagic CycleGAN baseline.

    ``base`` holds the NICE-GAN config and ``configs/_base_/models/cyclegan_lsgan-resnet-in.py``.
    The model becomes ``cyclegan_model`` with the NICE-GAN model's data preprocessor and
    domains; the optimisers and the distributed wrapper become CycleGAN's; the CAM panel
    (it needs NICE-GAN's encoder) becomes MMagic's translation visualisation every
    ``vis_interval`` iterations. ``generator`` / ``discriminator`` override network arguments.
    Everything else (data, metrics, checkpoints, schedule, runtime) stays the base's.
    """
    cyclegan, nicegan = base['cyclegan_model'], base['model']
    model = dict(_delete_=True, **cyclegan,
                 **{k: nicegan[k] for k in ('data_preprocessor', 'default_domain',
                                            'reachable_domains', 'related_domains')})
    if generator:
        model['generator'] = dict(cyclegan['generator'], **generator)
    if discriminator:
        model['discriminator'] = dict(cyclegan['discriminator'], **discriminator)
    return dict(
        model=model,
        optim_wrapper=dict(_delete_=True, **base['cyclegan_optim_wrapper']),
        model_wrapper_cfg=dict(_delete_=True, **base['cyclegan_model_wrapper_cfg']),
        custom_hooks=[dict(type='VisualizationHook', interval=vis_interval, fixed_input=True,
                           vis_kwargs_list=[dict(type='Translation', name='trans'),
                                            dict(type='TranslationVal', name='trans_val')])])

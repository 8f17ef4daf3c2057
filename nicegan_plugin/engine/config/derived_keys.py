"""The config keys that follow from a two-domain data set's values, worked out at build time.

A config states a data set once, as top-level values (the dataset base,
``nicegan_plugin/configs/_base_/datasets/nicegan_unpaired.py``, holds their defaults):

- ``domain_a``, ``domain_b``: the two domain names (``trainA``/``testA`` hold ``domain_a``);
- ``data_root``: the folder holding ``trainA``, ``trainB``, ``testA``, ``testB``;
- ``num_test_a``, ``num_test_b``: test-set sizes (FID/KID use every translated image; -1
  counts the test folder at run time);
- ``img_size``, ``load_size``: the training size and the resize before the random crop
  (``None``: ``img_size + 30``, the official); ``inception_path``: the FID Inception.

:func:`derive_keys` works out what follows from them: the model's domains and data keys (and
NICE-GAN's generator ``img_size``), the official train/test pipelines with the domains' key
mapping and ``PackInputs``, each data loader's data root and pipeline, FID and KID x 100 of
both directions in both evaluators, and the checkpoint hook's best checkpoint per direction
by FID. These are *defaults*: whatever the config or ``--cfg-options`` states is laid over
them (dicts key by key, MMEngine's ``metrics.0.fake_nums`` list-index form included), so
explicit keys win, and a config that already holds every key (the one a run writes to its
work dir) comes out unchanged. One rule also completes explicit values: a pipeline without
``PackInputs`` (written on MMagic's ``img_A``/``img_B`` keys) gets the domains' key mapping
and ``PackInputs`` appended.

Why at build time: MMEngine's inheritance merges a child's values into its bases' dicts but
cannot recompute a base's keys from them (classic ``_base_`` and ``read_base()`` configs alike).
Every consumer calls this one function: :class:`~..launch.runner.NICEGANRunner`
(``runner_type`` of the runtime base), the tools' config loader
(:func:`..launch.runner_setup.load_config`) and the inference loader (``apis.load_config``).
A config without ``domain_a`` (a converted official config, any MMagic config) is left as it is.
"""
import copy
from typing import Any, Dict, List, Optional

from .check import ConfigCheckError

#: the values a two-domain config states (see the module doc)
VALUE_KEYS = ('domain_a', 'domain_b', 'data_root', 'num_test_a', 'num_test_b', 'img_size',
              'load_size', 'inception_path')
#: the official resize before the random crop: img_size + LOAD_MARGIN (286 for 256 px)
LOAD_MARGIN = 30
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')

Pipeline = List[Dict[str, Any]]


def unpaired_pipelines(img_size: int, load_size: int) -> Dict[str, Pipeline]:
    """``{'train': ..., 'test': ...}``: an unpaired set's transforms as the official code
    feeds it, on MMagic's ``img_A``/``img_B`` keys.

    Train (per domain, independent randomness): horizontal flip -> resize to
    ``(load_size, load_size)`` (PIL bilinear) -> random crop ``img_size``. Test: resize to
    ``(img_size, img_size)``.
    """
    def load() -> Pipeline:
        return [dict(type='LoadImageFromFile', key='img_A', color_type='color'),
                dict(type='LoadImageFromFile', key='img_B', color_type='color')]

    def resize(size: int) -> Dict[str, Any]:
        return dict(type='Resize', keys=['img_A', 'img_B'], scale=(size, size),
                    keep_ratio=False, interpolation='bilinear', backend='pillow')

    train = load() + [
        dict(type='Flip', keys=['img_A'], direction='horizontal'),
        dict(type='Flip', keys=['img_B'], direction='horizontal'),
        resize(load_size),
        dict(type='Crop', keys=['img_A'], crop_size=(img_size, img_size), random_crop=True),
        dict(type='Crop', keys=['img_B'], crop_size=(img_size, img_size), random_crop=True),
    ]
    return dict(train=train, test=load() + [resize(img_size)])


def domain_steps(domain_a: str, domain_b: str) -> Pipeline:
    """The last two pipeline steps: ``img_A``/``img_B`` renamed ``img_<domain>`` (MMagic's
    ``KeyMapper``) and packed for the model (``PackInputs``)."""
    keys = [f'img_{domain_a}', f'img_{domain_b}']
    return [dict(type='KeyMapper', mapping=dict(zip(keys, ['img_A', 'img_B'])),
                 remapping={k: k for k in keys}),
            dict(type='PackInputs', keys=keys, data_keys=list(keys),
                 meta_keys=['img_A_path', 'img_B_path'])]


def domain_metrics(domain_a: str, domain_b: str, num_test_a: int, num_test_b: int,
                   inception_path: Optional[str] = None) -> List[Dict[str, Any]]:
    """FID and KID x 100 (the paper's metrics) of both directions, named
    ``FID-<src>-to-<tgt>`` / ``KID-<src>-to-<tgt>``, over every translated test image."""
    return [dict(type=metric, prefix=f'{name}-{src}-to-{tgt}', fake_nums=n_src, real_nums=n_tgt,
                 real_key=f'img_{tgt}', fake_key=f'fake_{tgt}', inception_path=inception_path,
                 sample_model='orig')
            for src, tgt, n_src, n_tgt in ((domain_a, domain_b, num_test_a, num_test_b),
                                           (domain_b, domain_a, num_test_b, num_test_a))
            for metric, name in (('NICEGANTransFID', 'FID'), ('NICEGANTransKID', 'KID'))]


def best_checkpoint_keys(domain_a: str, domain_b: str) -> List[str]:
    """``save_best`` of the checkpoint hook: FID of each direction (with ``rule='less'``,
    files ``best_FID-<a>-to-<b>_fid_iter_<n>.pth`` and the reverse)."""
    return [f'FID-{domain_a}-to-{domain_b}/fid', f'FID-{domain_b}-to-{domain_a}/fid']


def derive_keys(cfg):
    """Fill ``cfg`` (an MMEngine ``Config``, changed in place and returned) with the keys its
    data set's values decide; see the module doc. Raises :class:`ConfigCheckError` (one
    line, naming the config file and the key) for values that cannot be right."""
    if 'domain_a' not in cfg:
        return cfg
    values = _checked_values(cfg)
    a, b = values['domain_a'], values['domain_b']
    steps = domain_steps(a, b)
    pipelines = unpaired_pipelines(values['img_size'], values['load_size'])
    for part in ('train', 'test'):
        key = f'{part}_pipeline'
        explicit = cfg.get(key)
        cfg[key] = _complete(pipelines[part] if explicit is None else explicit, steps)

    defaults: Dict[str, Any] = {}
    model = cfg.get('model')
    if isinstance(model, dict):
        defaults['model'] = dict(default_domain=b, reachable_domains=[a, b],
                                 related_domains=[a, b])
        if isinstance(model.get('data_preprocessor'), dict):
            defaults['model']['data_preprocessor'] = dict(data_keys=[f'img_{a}', f'img_{b}'])
        generator = model.get('generator')
        if isinstance(generator, dict) and generator.get('type') == 'NICEGANGenerator':
            defaults['model']['generator'] = dict(img_size=values['img_size'])
    for loader, part in zip(LOADERS, ('train', 'test', 'test')):
        if isinstance(cfg.get(loader), dict):
            defaults[loader] = dict(dataset=dict(data_root=values['data_root'],
                                                 pipeline=cfg[f'{part}_pipeline']))
    metrics = domain_metrics(a, b, values['num_test_a'], values['num_test_b'],
                             values['inception_path'])
    for evaluator in EVALUATORS:
        if isinstance(cfg.get(evaluator), dict):
            defaults[evaluator] = dict(metrics=metrics)
    if isinstance((cfg.get('default_hooks') or {}).get('checkpoint'), dict):
        defaults['default_hooks'] = dict(checkpoint=dict(save_best=best_checkpoint_keys(a, b)))

    for key, default in defaults.items():
        cfg[key] = overlay(cfg[key], copy.deepcopy(default), key)
    for loader in LOADERS:
        dataset = (cfg.get(loader) or {}).get('dataset')
        if isinstance(dataset, dict) and isinstance(dataset.get('pipeline'), list):
            dataset['pipeline'] = _complete(dataset['pipeline'], steps)
    return cfg


def overlay(explicit: Any, default: Any, where: str = '') -> Any:
    """``explicit`` laid over ``default``: dicts merge key by key; a dict of digit keys over
    a list sets those items (the form ``--cfg-options metrics.0.fake_nums=4`` leaves when
    the list was not there yet); anything else is ``explicit``."""
    if isinstance(explicit, dict) and isinstance(default, dict):
        out = dict(default)
        for key, value in explicit.items():
            out[key] = overlay(value, default[key], f'{where}.{key}') if key in default \
                else value
        return out
    if isinstance(explicit, dict) and isinstance(default, list) and explicit and \
            all(str(k).isdigit() for k in explicit):
        out = list(default)
        for key, value in explicit.items():
            if int(key) >= len(out):
                raise ConfigCheckError(f'{where}.{key}: the list has {len(out)} items')
            out[int(key)] = overlay(value, out[int(key)], f'{where}.{key}')
        return out
    return explicit


def _complete(pipeline: Pipeline, steps: Pipeline) -> Pipeline:
    """``pipeline`` as a list, with ``steps`` appended unless it packs its inputs already."""
    pipeline = list(pipeline)
    if any(isinstance(t, dict) and t.get('type') == 'PackInputs' for t in pipeline):
        return pipeline
    return pipeline + copy.deepcopy(steps)


def _checked_values(cfg) -> Dict[str, Any]:
    """The data set's values of ``cfg`` (defaults filled in), or a one-line error."""
    where = f'config {cfg.filename}' if getattr(cfg, 'filename', None) else 'config'
    values = {k: cfg.get(k) for k in VALUE_KEYS}
    a, b = values['domain_a'], values['domain_b']
    if a is None or b is None:
        raise ConfigCheckError(
            f"{where}: domain_a and domain_b are not set; name the two domains (trainA/testA "
            "hold domain_a), e.g. domain_a = 'cat' and domain_b = 'dog', and data_root "
            '(docs/training.md#your-own-data)')
    if not (isinstance(a, str) and isinstance(b, str) and a and b and a != b):
        raise ConfigCheckError(f'{where}: domain_a and domain_b must be two different names '
                               f'(got {a!r} and {b!r})')
    for name in ('num_test_a', 'num_test_b'):
        num = values[name] = -1 if values[name] is None else values[name]
        if type(num) is not int or (num < 1 and num != -1):
            raise ConfigCheckError(f'{where}: {name} must be the test-set size (>= 1) or -1 '
                                   f'(count the test folder at run time), got {num!r}')
    size = values['img_size']
    if type(size) is not int or size < 1:
        raise ConfigCheckError(f'{where}: img_size must be the training image size in pixels '
                               f'(got {size!r})')
    load = values['load_size'] = size + LOAD_MARGIN if values['load_size'] is None \
        else values['load_size']
    if type(load) is not int or load < size:
        raise ConfigCheckError(f'{where}: load_size (the resize before the random crop) must '
                               f'be at least img_size={size} (got {load!r}; None: img_size + '
                               f'{LOAD_MARGIN})')
    return values

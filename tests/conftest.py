"""The tests' one family of shared fixtures. Tests take these as arguments (a factory
fixture returns a function); no test imports another test module (tests/test_architecture.py
checks it).

Paths: ``project_root``, ``photo_dir`` (tests/data/photos), ``fixture_dir(name)`` (official
parity fixtures). Tiny configs: ``tiny_config`` (tests/configs/tiny_h2z.py),
``tiny_config_file(name)``, ``tiny_size``, ``tiny_paper_config(data_root)`` (the paper's
horse2zebra config with the tiny networks) and the ``config_files`` marker. Tiny models:
``tiny_model_cfg(...)``, ``build_tiny_model(...)``, ``tiny_checkpoint`` (what training writes)
and ``tiny`` (its model loaded). Tiny data sets: ``make_image_set(root, n_a, n_b, size)``
(synthetic), ``photo_paths`` / ``read_photos`` / ``make_photo_set`` (real cat/dog photos of
tests/data/photos, MIT-licensed, see its README). Running: ``data_root_options`` /
``data_root_args``, ``make_tiny_runner(...)``, ``run_tools``, ``data_check_cache``.
"""
import copy
import functools
import glob
import itertools
import os
import os.path as osp
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
import torch

_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: the tiny test config (tools' end-to-end tests train it); its networks are every tiny model's
_TINY_CONFIG = osp.join(_ROOT, 'tests', 'configs', 'tiny_h2z.py')
#: the real paper config the shrunk configs are cut from
_PAPER_CONFIG = osp.join(_ROOT, 'configs', 'nicegan',
                         'nicegan_light_1xb1-100kiters_horse2zebra.py')
_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: 12 cat and 12 dog photos from the official repository (MIT; tests/data/photos/README.md)
_PHOTO_DIR = osp.join(_ROOT, 'tests', 'data', 'photos')
_runs = itertools.count()


# ------------------------------------------------------------------ implementations
def _fixture_dir(name: str) -> str:
    """Folder of the official parity fixture ``name`` (light_ch3_64px, full_ch2_64px; see
    tests/data/official_parity/README.md)."""
    path = osp.join(_ROOT, 'tests', 'data', 'official_parity', name)
    if not osp.isdir(path):
        pytest.fail(f'parity fixture missing: {path} (made by tools/make_parity_fixture.py)')
    return path


@functools.lru_cache(maxsize=None)
def _tiny_model_section():
    """The ``model`` section of :data:`_TINY_CONFIG` (read once)."""
    from mmengine.config import Config
    return Config.fromfile(_TINY_CONFIG, import_custom_modules=False).model


def _tiny_size() -> int:
    """Image size of the tiny models (the tiny config's generator ``img_size``)."""
    return int(_tiny_model_section().generator.img_size)


def _tiny_networks() -> Tuple[Dict, Dict]:
    """(generator, discriminator) sizes of the tiny config: the one definition of them."""
    model = _tiny_model_section()
    return (dict(base_channels=model.generator.base_channels,
                 num_blocks=model.generator.num_blocks),
            dict(base_channels=model.discriminator.base_channels,
                 num_layers=model.discriminator.num_layers))


def _tiny_model_cfg(domain_a: str = 'A', domain_b: str = 'B', img_size: Optional[int] = None,
                    light: bool = True) -> Dict:
    """A NICEGAN model dict with the tiny networks (RGB preprocessor, ``domain_b`` default)."""
    generator, discriminator = _tiny_networks()
    return dict(
        type='NICEGAN',
        data_preprocessor=dict(type='DataPreprocessor', mean=127.5, std=127.5,
                               output_channel_order='RGB',
                               data_keys=[f'img_{domain_a}', f'img_{domain_b}']),
        generator=dict(type='NICEGANGenerator', **generator,
                       img_size=img_size or _tiny_size(), light=light),
        discriminator=dict(type='NICEGANDiscriminator', **discriminator),
        default_domain=domain_b,
        reachable_domains=[domain_a, domain_b],
        related_domains=[domain_a, domain_b])


def _build_tiny_model(*args, **kwargs) -> torch.nn.Module:
    """``MODELS.build(tiny_model_cfg(*args, **kwargs))`` (train mode, the current seed)."""
    from mmagic.registry import MODELS
    return MODELS.build(_tiny_model_cfg(*args, **kwargs))


def _shrink_config(cfg, data_root: str):
    """``cfg`` (a horse2zebra config) with the tiny networks at ``tiny_size`` px (resized to
    ``tiny_size + 30`` before the crop, as the paper's), no FID, single-process loaders on
    ``data_root``, and the keys these values decide worked out (``derive_keys``, as a runner
    does): fast on CPU, same wiring otherwise."""
    from nicegan_plugin.engine import derive_keys
    size = _tiny_size()
    generator, discriminator = _tiny_networks()
    cfg = copy.deepcopy(cfg)
    cfg.img_size, cfg.load_size, cfg.data_root = size, size + 30, data_root
    cfg.model.generator.update(generator)
    cfg.model.discriminator.update(discriminator)
    for key in _LOADERS:
        cfg[key].update(num_workers=0, persistent_workers=False)
    cfg.val_evaluator = dict(type='Evaluator', metrics=[])
    cfg.test_evaluator = dict(type='Evaluator', metrics=[])
    return derive_keys(cfg)


def _tiny_paper_config(data_root: str = 'data/none'):
    """The real horse2zebra paper config (a fresh ``Config``) shrunk by :func:`_shrink_config`."""
    from mmengine.config import Config
    return _shrink_config(Config.fromfile(_PAPER_CONFIG), data_root)


def _make_image_set(root: str, n_a: int = 4, n_b: int = 4, size: int = 72,
                     seed: int = 0) -> str:
    """trainA/trainB/testA/testB of random-ish PNGs (A reddish, B bluish); returns ``root``."""
    import cv2
    rng = np.random.RandomState(seed)
    for split in ('train', 'test'):
        for dom, n, chan in (('A', n_a, 2), ('B', n_b, 0)):
            folder = osp.join(root, f'{split}{dom}')
            os.makedirs(folder, exist_ok=True)
            for i in range(n):
                img = rng.randint(0, 120, (size, size, 3)).astype(np.uint8)
                img[..., chan] = 200  # BGR: A red, B blue
                cv2.imwrite(osp.join(folder, f'{dom.lower()}{i:03d}.png'), img)
    return root


def _photo_paths(animal: str, count: int = 2) -> List[str]:
    """The first ``count`` (sorted) real photos of ``animal`` ('cat' or 'dog', 178x218 JPEG)."""
    folder = osp.join(_PHOTO_DIR, animal)
    paths = sorted(glob.glob(osp.join(folder, '*.jpg')))
    if len(paths) < count:
        pytest.fail(f'{folder} holds {len(paths)} photos; the test needs {count}')
    return paths[:count]


def _read_photos(animal: str, count: int = 2) -> List[np.ndarray]:
    """RGB uint8 arrays of :func:`_photo_paths` (read as the plugin reads images)."""
    from nicegan_plugin.utils import read_rgb
    return [read_rgb(p) for p in _photo_paths(animal, count)]


def _make_photo_set(root: str, n_train: int = 3, n_test: int = 2) -> str:
    """trainA/trainB/testA/testB of real cat (A) and dog (B) photos; returns ``root``."""
    for dom, animal in (('A', 'cat'), ('B', 'dog')):
        paths = _photo_paths(animal, n_train + n_test)
        for split, chosen in (('train', paths[:n_train]), ('test', paths[n_train:])):
            os.makedirs(osp.join(root, f'{split}{dom}'), exist_ok=True)
            for path in chosen:
                shutil.copy(path, osp.join(root, f'{split}{dom}'))
    return root


def _data_root_options(root: str) -> Dict[str, str]:
    """``{'<loader>.dataset.data_root': root}`` for the three loaders (merge_from_dict)."""
    return {f'{k}.dataset.data_root': str(root) for k in _LOADERS}


def _data_root_args(root: str) -> List[str]:
    """The same as ``key=value`` words for a tool's ``--cfg-options``."""
    return [f'{k}={v}' for k, v in _data_root_options(root).items()]


def _make_tiny_runner(work_dir, data_root: str, drop_hooks: Sequence[str] = (),
                      config: str = _TINY_CONFIG, **options):
    """The plugin's Runner (``NICEGANRunner``: MMEngine's, on the derived keys) for ``config``
    (the tiny test config) on ``data_root``, with ``options`` merged in and the default hooks
    named in ``drop_hooks`` removed."""
    from mmengine.config import Config

    from nicegan_plugin.engine import NICEGANRunner
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({**_data_root_options(data_root), **options})
    for name in drop_hooks:
        cfg.default_hooks.pop(name)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'tiny-{os.getpid()}-{next(_runs)}'  # a logger per runner
    return NICEGANRunner.from_cfg(cfg)


def _run_tools(tool: str, arg_lists: List[List[str]], extra: Sequence[str] = (),
               workers: int = 2, timeout: int = 600) -> List[subprocess.CompletedProcess]:
    """Run ``python <tool> <args> <extra>`` once per argument list, ``workers`` at a time
    (each start imports torch and MMagic: seconds), from the project root."""
    def one(args: List[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, tool, *args, *extra], cwd=_ROOT,
                              capture_output=True, text=True, timeout=timeout)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, arg_lists))


# --------------------------------------------------------------------------- hooks
def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'config_files(*patterns): parametrize the argument `config_path` with the '
        'files matching these glob patterns (relative to the project root), ids = file names')


def pytest_generate_tests(metafunc):
    """``@pytest.mark.config_files('configs/*.py')``: one test per matching config file."""
    marker = metafunc.definition.get_closest_marker('config_files')
    if marker is not None:
        paths = sorted(p for pattern in marker.args
                       for p in glob.glob(osp.join(_ROOT, pattern), recursive=True))
        assert paths, f'no file matches {marker.args}'
        metafunc.parametrize('config_path', paths, ids=osp.basename)


@pytest.fixture(scope='session', autouse=True)
def _register_plugin():
    from mmengine.registry import init_default_scope

    import nicegan_plugin  # noqa: F401
    init_default_scope('mmagic')


# ------------------------------------------------------------------------- paths
@pytest.fixture(scope='session')
def project_root() -> str:
    """The project root (tools run from here)."""
    return _ROOT


@pytest.fixture(scope='session')
def photo_dir() -> str:
    """tests/data/photos: ``cat/`` and ``dog/``, 12 real photos each (178x218 JPEG)."""
    return _PHOTO_DIR


@pytest.fixture(scope='session')
def fixture_dir() -> Callable[[str], str]:
    """``fixture_dir(name)``: the folder of an official parity fixture."""
    return _fixture_dir


# ------------------------------------------------------------------ tiny configs
@pytest.fixture(scope='session')
def tiny_config() -> str:
    """Path of tests/configs/tiny_h2z.py: the paper's horse2zebra config, tiny networks,
    64 px, a deterministic pipeline."""
    return _TINY_CONFIG


@pytest.fixture(scope='session')
def tiny_config_file() -> Callable[[str], str]:
    """``tiny_config_file(name)``: path of tests/configs/<name>.py (fails if missing)."""
    def path(name: str = 'tiny_h2z') -> str:
        file = osp.join(_ROOT, 'tests', 'configs', f'{name}.py')
        if not osp.isfile(file):
            pytest.fail(f'tiny config missing: {file}')
        return file
    return path


@pytest.fixture(scope='session')
def tiny_size() -> int:
    """Image size of the tiny models (64)."""
    return _tiny_size()


@pytest.fixture(scope='session')
def tiny_paper_config() -> Callable:
    """``tiny_paper_config(data_root='data/none')``: a fresh ``Config`` of the real
    horse2zebra paper config with the tiny networks at ``tiny_size`` px, no FID,
    single-process loaders."""
    return _tiny_paper_config


# ------------------------------------------------------------------- tiny models
@pytest.fixture(scope='session')
def tiny_model_cfg() -> Callable[..., Dict]:
    """``tiny_model_cfg(domain_a='A', domain_b='B', img_size=tiny_size, light=True)``:
    a NICEGAN model dict with the tiny config's networks."""
    return _tiny_model_cfg


@pytest.fixture(scope='session')
def build_tiny_model() -> Callable[..., torch.nn.Module]:
    """``build_tiny_model(*args, **kwargs)``: ``MODELS.build(tiny_model_cfg(...))``."""
    return _build_tiny_model


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory) -> Tuple[str, str]:
    """(config path, checkpoint path) of a tiny horse/zebra model; the checkpoint is what
    training writes: MMEngine's Runner saves it after one iteration (weights, optimizer
    and scheduler states, message hub, meta)."""
    from mmengine.runner import Runner
    tmp = tmp_path_factory.mktemp('tiny')
    cfg_path = str(tmp / 'tiny_cfg.py')
    _tiny_paper_config().dump(cfg_path)
    data = _make_image_set(str(tmp / 'data'), n_a=2, n_b=2, size=_tiny_size() + 8)
    run = _tiny_paper_config(data_root=data)
    run.merge_from_dict({'train_cfg.max_iters': 1, 'train_cfg.val_interval': 100,
                         'default_hooks.checkpoint.interval': 1, 'custom_hooks': []})
    run.work_dir, run.experiment_name = str(tmp / 'work'), 'tiny-fixture'
    torch.manual_seed(0)
    Runner.from_cfg(run).train()
    return cfg_path, str(tmp / 'work' / 'iter_1.pth')


@pytest.fixture(scope='module')
def tiny(tiny_checkpoint):
    """(config path, checkpoint path, model in eval mode holding the checkpoint's weights)."""
    from mmagic.registry import MODELS
    from mmengine.config import Config
    cfg_path, ckpt = tiny_checkpoint
    model = MODELS.build(Config.fromfile(cfg_path).model).eval()
    model.load_state_dict(torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict'])
    return cfg_path, ckpt, model


# --------------------------------------------------------------- tiny data sets
@pytest.fixture(scope='session')
def make_image_set() -> Callable[..., str]:
    """``make_image_set(root, n_a=4, n_b=4, size=72, seed=0)``: trainA/trainB/testA/testB
    of synthetic PNGs (A reddish, B bluish) under ``root``; returns ``root``."""
    return _make_image_set


@pytest.fixture(scope='session')
def photo_paths() -> Callable[..., List[str]]:
    """``photo_paths(animal, count=2)``: the first ``count`` real 'cat' or 'dog' photos."""
    return _photo_paths


@pytest.fixture(scope='session')
def read_photos() -> Callable[..., List[np.ndarray]]:
    """``read_photos(animal, count=2)``: those photos as RGB uint8 arrays."""
    return _read_photos


@pytest.fixture(scope='session')
def make_photo_set() -> Callable[..., str]:
    """``make_photo_set(root, n_train=3, n_test=2)``: trainA/trainB/testA/testB of real cat
    (A) and dog (B) photos under ``root``; returns ``root``."""
    return _make_photo_set


# ----------------------------------------------------------------------- running
@pytest.fixture(scope='session')
def data_root_options() -> Callable[[str], Dict[str, str]]:
    """``data_root_options(root)``: ``{'<loader>.dataset.data_root': root}``, 3 loaders."""
    return _data_root_options


@pytest.fixture(scope='session')
def data_root_args() -> Callable[[str], List[str]]:
    """``data_root_args(root)``: the same as ``key=value`` words for ``--cfg-options``."""
    return _data_root_args


@pytest.fixture(scope='session')
def make_tiny_runner() -> Callable:
    """``make_tiny_runner(work_dir, data_root, drop_hooks=(), config=tiny_config, **options)``:
    MMEngine's Runner of the tiny config on ``data_root`` with ``options`` merged in."""
    return _make_tiny_runner


@pytest.fixture(scope='session')
def run_tools() -> Callable:
    """``run_tools(tool, arg_lists, extra=(), workers=2, timeout=600)``: the tool run once
    per argument list from the project root, two at a time; the CompletedProcesses."""
    return _run_tools


@pytest.fixture
def data_check_cache(tmp_path, monkeypatch):
    """A fresh data-check cache per test (not the user's ~/.cache); tools the test starts
    inherit it. Opt in with ``pytestmark = pytest.mark.usefixtures('data_check_cache')``."""
    path = tmp_path / 'data_check_cache'
    monkeypatch.setenv('NICEGAN_DATA_CHECK_CACHE', str(path))
    return path

"""Shared test helpers: the ../shared folder, tiny model configs, a tiny image set."""
import copy
import os
import os.path as osp
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def shared_dir() -> str:
    """``../shared`` beside the project root, or $NICEGAN_SHARED; fails loudly if absent."""
    path = os.environ.get('NICEGAN_SHARED', osp.join(osp.dirname(ROOT), 'shared'))
    if not osp.isdir(path):
        pytest.fail(f'shared folder not found at {path}: the parity fixtures and photos live '
                    'there (set NICEGAN_SHARED to its location)')
    return path


def fixture_dir(name: str) -> str:
    path = osp.join(shared_dir(), 'fixtures', 'official_parity', name)
    if not osp.isdir(path):
        pytest.fail(f'parity fixture missing: {path}')
    return path


#: the real paper config the tiny test models are cut from
CONFIG = osp.join(ROOT, 'configs', 'nicegan', 'nicegan_light_1xb1-100kiters_horse2zebra.py')
#: image size of the tiny test models
SIZE = 64
#: the tiny test config (tools' end-to-end tests train it)
TINY_CONFIG = osp.join(ROOT, 'tests', 'configs', 'tiny_h2z.py')


def _tiny_networks() -> Tuple[Dict, Dict]:
    """The tiny networks of :data:`TINY_CONFIG`: the one definition every test model uses."""
    from mmengine.config import Config
    model = Config.fromfile(TINY_CONFIG, import_custom_modules=False).model
    return (dict(base_channels=model.generator.base_channels,
                 num_blocks=model.generator.num_blocks),
            dict(base_channels=model.discriminator.base_channels,
                 num_layers=model.discriminator.num_layers))


TINY_GENERATOR, TINY_DISCRIMINATOR = _tiny_networks()


def shrink_config(cfg, size: int = SIZE, data_root: str = 'data/none'):
    """The real horse2zebra config with a tiny model, ``size`` px pipelines, no FID,
    single-process loaders: fast on CPU, same wiring otherwise."""
    cfg = copy.deepcopy(cfg)
    cfg.model.generator.update(TINY_GENERATOR, img_size=size)
    cfg.model.discriminator.update(TINY_DISCRIMINATOR)
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        train = pipeline is cfg.train_pipeline
        for t in pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (size + 30, size + 30) if train else (size, size)
            elif t['type'] == 'Crop':
                t['crop_size'] = (size, size)
    for key, pipeline in (('train_dataloader', cfg.train_pipeline),
                          ('val_dataloader', cfg.test_pipeline),
                          ('test_dataloader', cfg.test_pipeline)):
        cfg[key].update(num_workers=0, persistent_workers=False)
        cfg[key].dataset.update(data_root=data_root, pipeline=pipeline)
    cfg.val_evaluator = dict(type='Evaluator', metrics=[])
    cfg.test_evaluator = dict(type='Evaluator', metrics=[])
    return cfg


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory) -> Tuple[str, str]:
    """(config path, checkpoint path) of a tiny horse/zebra model; the checkpoint is what
    training writes: MMEngine's Runner saves it after one iteration (weights, optimizer
    and scheduler states, message hub, meta)."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    tmp = tmp_path_factory.mktemp('tiny')
    cfg = shrink_config(Config.fromfile(CONFIG))
    cfg_path = str(tmp / 'tiny_cfg.py')
    cfg.dump(cfg_path)
    data = write_image_set(str(tmp / 'data'), n_a=2, n_b=2, size=SIZE + 8)
    run = shrink_config(cfg, data_root=data)
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


def run_tools(tool: str, arg_lists: List[List[str]], extra: Sequence[str] = (),
              workers: int = 2, timeout: int = 600) -> List[subprocess.CompletedProcess]:
    """Run ``python <tool> <args> <extra>`` once per argument list, ``workers`` at a time
    (each start imports torch and MMagic: seconds), from the project root."""
    def one(args: List[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, tool, *args, *extra], cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, arg_lists))


def tiny_model_cfg(domain_a: str = 'A', domain_b: str = 'B', img_size: int = 64,
                   light: bool = True) -> Dict:
    return dict(
        type='NICEGAN',
        data_preprocessor=dict(type='DataPreprocessor', mean=127.5, std=127.5,
                               output_channel_order='RGB',
                               data_keys=[f'img_{domain_a}', f'img_{domain_b}']),
        generator=dict(type='NICEGANGenerator', **TINY_GENERATOR, img_size=img_size,
                       light=light),
        discriminator=dict(type='NICEGANDiscriminator', **TINY_DISCRIMINATOR),
        default_domain=domain_b,
        reachable_domains=[domain_a, domain_b],
        related_domains=[domain_a, domain_b])


def write_image_set(root: str, n_a: int = 4, n_b: int = 4, size: int = 72,
                    seed: int = 0) -> str:
    """trainA/trainB/testA/testB of random-ish images (A reddish, B bluish)."""
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


@pytest.fixture(scope='session', autouse=True)
def _register_plugin():
    from mmengine.registry import init_default_scope

    import nicegan_plugin  # noqa: F401
    init_default_scope('mmagic')

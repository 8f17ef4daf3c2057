"""Shared test helpers: the ../shared folder, tiny model configs, a tiny image set."""
import os
import os.path as osp
from typing import Dict

import numpy as np
import pytest

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


def tiny_model_cfg(domain_a: str = 'A', domain_b: str = 'B', img_size: int = 64,
                   light: bool = True) -> Dict:
    return dict(
        type='NICEGAN',
        data_preprocessor=dict(type='DataPreprocessor', mean=127.5, std=127.5,
                               output_channel_order='RGB',
                               data_keys=[f'img_{domain_a}', f'img_{domain_b}']),
        generator=dict(type='NICEGANGenerator', base_channels=8, num_blocks=1,
                       img_size=img_size, light=light),
        discriminator=dict(type='NICEGANDiscriminator', base_channels=8, num_layers=6),
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
    import nicegan_plugin  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmagic')

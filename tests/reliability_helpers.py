"""Helpers of the tests/engine/test_reliability_*.py files: a tiny runner on real photos."""
import hashlib
import itertools
import os
import os.path as osp
import shutil

import pytest

from conftest import TINY_CONFIG, shared_dir

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_runs = itertools.count()


@pytest.fixture(autouse=True)
def data_check_cache(tmp_path, monkeypatch):
    """A fresh data-check cache per test (not the user's ~/.cache)."""
    path = tmp_path / 'data_check_cache'
    monkeypatch.setenv('NICEGAN_DATA_CHECK_CACHE', str(path))
    return path


def photo_set(root: str, n_train: int = 3, n_test: int = 2) -> str:
    """trainA/trainB/testA/testB of real cat (A) and dog (B) photos (JPEG, ~200 px)."""
    photos = osp.join(shared_dir(), 'data', 'cat2dog_faces')
    for dom, animal in (('A', 'cat'), ('B', 'dog')):
        names = sorted(os.listdir(osp.join(photos, animal)))
        for split, chosen in (('train', names[:n_train]),
                              ('test', names[n_train:n_train + n_test])):
            os.makedirs(osp.join(root, f'{split}{dom}'), exist_ok=True)
            for name in chosen:
                shutil.copy(osp.join(photos, animal, name), osp.join(root, f'{split}{dom}'))
    return root


def data_options(root: str) -> dict:
    return {f'{k}.dataset.data_root': root for k in LOADERS}


def tiny_runner(work_dir: str, data_root: str, drop_hooks=(), **options):
    """MMEngine's Runner for the tiny test config, with ``options`` merged in and the
    default hooks named in ``drop_hooks`` removed."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict({**data_options(data_root), **options})
    for name in drop_hooks:
        cfg.default_hooks.pop(name)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'reliability-{os.getpid()}-{next(_runs)}'  # a logger per runner
    return Runner.from_cfg(cfg)


def sha256(path) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()

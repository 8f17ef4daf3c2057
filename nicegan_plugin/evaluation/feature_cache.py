"""Inception features computed once per evaluation and shared by FID and KID.

Real images (one pass per dataset/real_key/weights, for all metrics and all evaluations):
    :func:`real_features` keeps the raw (N, 2048) features in a process-wide dict keyed by
    :func:`real_feature_key` (dataset description, ``real_key``, ``real_nums``, sha256 of the
    Inception weights), and in a ``.npz`` file on disk (``inception_pkl`` or
    ``$NICEGAN_FEAT_CACHE``/``~/.cache/openmmlab/mmagic/nicegan_inception_feat-<key>.npz``),
    so a FID and a KID metric on the same real images, and later runs, reuse them. Files
    hold plain arrays and are read with ``allow_pickle=False``: a cache file is data, never
    code. In a distributed run only rank 0 reads or computes them and broadcasts them, so
    ranks that do not share a file system (multi-node) still use the same features.

Fake images (one pass per batch, for all metrics reading the same outputs):
    MMagic's ``Evaluator.process`` converts each output ``DataSample`` to a dict once and
    hands the *same* dicts to every metric, so a FID and a KID metric with the same
    ``fake_key`` receive the very same tensor objects. :data:`FAKE_MEMO` remembers the
    features of the last few batches together with (strong references to) their tensors; a
    metric whose batch is identical (``is``, same in-place version, same weights) reuses them.
"""
import hashlib
import io
import os
import os.path as osp
import zipfile
from copy import deepcopy
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine import print_log
from mmengine.dataset import pseudo_collate
from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from torch.utils.data import DataLoader

from nicegan_plugin.utils.fileio import atomic_write

CACHE_ENV_VAR = 'NICEGAN_FEAT_CACHE'
_REAL_FEATS: Dict[str, np.ndarray] = {}
#: arrays a feature file may hold: raw features (FID and KID) or statistics (FID only;
#: ``mu``/``sigma`` is pytorch-fid's / TTUR's ``.npz`` layout)
RAW, STATS = 'raw_feature', (('real_mean', 'real_cov'), ('mu', 'sigma'))


def default_cache_dir() -> str:
    """``$NICEGAN_FEAT_CACHE``, else MMagic's cache folder (where its FID pickles go)."""
    return os.environ.get(CACHE_ENV_VAR) or osp.join(
        osp.expanduser('~'), '.cache', 'openmmlab', 'mmagic')


def real_feature_key(dataset, real_key: str, real_nums: int, weights_id: str) -> str:
    """md5 of what determines the real features: the dataset's description (class, root,
    prefix, metainfo, pipeline, length, test_mode), the image key, the count and weights."""
    desc = dict(
        cls=type(dataset).__name__,
        data_root=deepcopy(getattr(dataset, 'data_root', None)),
        data_prefix=deepcopy(getattr(dataset, 'data_prefix', None)),
        metainfo=getattr(dataset, 'metainfo', None),
        pipeline=repr(getattr(dataset, 'pipeline', None)),
        length=len(dataset),
        test_mode=getattr(dataset, 'test_mode', None),
        real_key=real_key,
        real_nums=real_nums,
        weights=weights_id)
    return hashlib.md5(repr(sorted(desc.items())).encode()).hexdigest()


def save_features(path: str, **arrays) -> None:
    """Write arrays (and strings, as 0-d unicode arrays) to ``path`` as ``.npz``, atomically
    (the file keeps its name even if it does not end with ``.npz``)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write(path, buffer.getvalue())


def load_features(path: str) -> Dict[str, np.ndarray]:
    """Arrays of a ``.npz`` feature file, read as data only (``allow_pickle=False``).

    Raises:
        ValueError: naming the file, when it is not such a file (e.g. an old pickle).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError('a single .npy array')
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f'{path} is not a .npz feature file ({str(exc).splitlines()[0][:120]}); feature '
            'files are read as plain arrays, never unpickled. Delete it or point '
            'inception_pkl to a new path (it will be written as .npz).') from None


def _check_file(state: Dict[str, np.ndarray], path: str, weights_id: str) -> None:
    """The file holds usable arrays computed with the current weights."""
    weights = str(state['weights']) if 'weights' in state else weights_id
    if weights != weights_id:
        raise ValueError(f'{path} holds features of other Inception weights ({weights}, now '
                         f'{weights_id}); delete it or point inception_pkl elsewhere.')
    if RAW not in state and not any(a in state and b in state for a, b in STATS):
        raise ValueError(f'{path} holds none of {RAW!r}, real_mean/real_cov, mu/sigma '
                         f'(found: {sorted(state)}); delete it or point inception_pkl elsewhere.')


@torch.no_grad()
def extract_real_features(dataloader: DataLoader, data_preprocessor: nn.Module, real_key: str,
                          real_nums: int, extract: Callable[[torch.Tensor], torch.Tensor]
                          ) -> np.ndarray:
    """Features of dataset items ``0 .. n-1`` (``n = len(dataset)`` or ``real_nums``), in order.

    Images are ``data_preprocessor(batch, training=False)`` fields, i.e. BGR in [0, 255], as
    fakes are. Runs in the calling process only (rank 0; see :func:`real_features`).
    """
    dataset = dataloader.dataset
    n = len(dataset) if real_nums == -1 else min(real_nums, len(dataset))
    loader = DataLoader(dataset, batch_size=dataloader.batch_size or 1, sampler=range(n),
                        collate_fn=pseudo_collate, shuffle=False, drop_last=False)
    feats: List[torch.Tensor] = []
    for data in loader:
        samples = data_preprocessor(data, False)['data_samples']
        imgs = getattr(samples, real_key)
        if isinstance(imgs, torch.Tensor):
            feats.append(extract(imgs))
        else:  # un-stacked samples of different sizes
            feats += [extract(img[None]) for img in imgs]
    return torch.cat(feats).numpy()


def _real_features_here(dataloader: DataLoader, data_preprocessor: nn.Module, real_key: str,
                        real_nums: int, weights_id: str,
                        extract: Callable[[torch.Tensor], torch.Tensor],
                        inception_pkl: Optional[str], prefix: Optional[str]
                        ) -> Dict[str, np.ndarray]:
    """:func:`real_features` in one process: explicit file, memory, disk cache, extraction."""
    if inception_pkl and osp.isfile(inception_pkl):
        state = load_features(inception_pkl)
        _check_file(state, inception_pkl, weights_id)
        print_log(f'{prefix}: real Inception features from {inception_pkl}', 'current')
        if RAW in state:
            return {RAW: state[RAW]}
        mean, cov = next((a, b) for a, b in STATS if a in state and b in state)
        return dict(real_mean=state[mean], real_cov=state[cov])
    key = real_feature_key(dataloader.dataset, real_key, real_nums, weights_id)
    path = inception_pkl or osp.join(default_cache_dir(), f'nicegan_inception_feat-{key}.npz')
    if key not in _REAL_FEATS and osp.isfile(path):
        state = load_features(path)
        if RAW in state and str(state.get('key', key)) == key:
            _REAL_FEATS[key] = state[RAW]
            print_log(f'{prefix}: real Inception features from {path}', 'current')
    if key not in _REAL_FEATS:
        print_log(f'{prefix}: extracting real Inception features ({real_key})', 'current')
        _REAL_FEATS[key] = extract_real_features(dataloader, data_preprocessor, real_key,
                                                 real_nums, extract)
    feats = _REAL_FEATS[key]
    if not osp.isfile(path):
        save_features(path, raw_feature=feats, key=key, real_key=real_key, weights=weights_id)
        print_log(f'{prefix}: real Inception features saved to {path}', 'current')
    return {RAW: feats}


def real_features(dataloader: DataLoader, data_preprocessor: nn.Module, real_key: str,
                  real_nums: int, weights_id: str,
                  extract: Callable[[torch.Tensor], torch.Tensor],
                  inception_pkl: Optional[str] = None, prefix: Optional[str] = None
                  ) -> Dict[str, np.ndarray]:
    """Real features, computed at most once per key and process, identical on every rank.

    On rank 0 (the only process when not distributed), in this order: an existing
    ``inception_pkl`` file (our ``.npz``, or statistics only: ``real_mean``/``real_cov``
    or pytorch-fid's ``mu``/``sigma``); the in-memory cache; the default cache file;
    extraction (then written to ``inception_pkl`` or the default cache file). Other ranks
    touch no file: they receive rank 0's result by broadcast (or, if rank 0 fails, a
    ``RuntimeError`` carrying its message, so that no rank waits forever).

    Returns:
        ``{'raw_feature': (N, D) float32}`` when available, else (a statistics-only file)
        ``{'real_mean': (D,), 'real_cov': (D, D)}``.
    """
    if get_world_size() == 1:
        return _real_features_here(dataloader, data_preprocessor, real_key, real_nums,
                                   weights_id, extract, inception_pkl, prefix)
    result: list = [None]
    error: Optional[Exception] = None
    if is_main_process():
        try:
            result[0] = _real_features_here(dataloader, data_preprocessor, real_key,
                                            real_nums, weights_id, extract, inception_pkl,
                                            prefix)
        except Exception as exc:  # every rank must hear of it, or they wait forever
            error, result[0] = exc, _RankZeroError(f'{type(exc).__name__}: {exc}')
    broadcast_object_list(result, src=0)
    if error is not None:
        raise error
    if isinstance(result[0], _RankZeroError):
        raise RuntimeError(f'{prefix}: real features failed on rank 0: {result[0].message}')
    return result[0]


class _RankZeroError:
    """Rank 0's error as plain text (exception objects may not survive pickling)."""

    def __init__(self, message: str) -> None:
        self.message = message


class BatchFeatureMemo:
    """Inception features of the most recent batches of fake images (see module docstring).

    Holds up to ``size`` entries (one per output key and weights), so metrics listed in any
    order (FID a->b, FID b->a, KID a->b, ...) all hit; entries keep strong references to
    their tensors, so an ``is`` match can never be a recycled object.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._entries: List[tuple] = []  # (weights_id, imgs, versions, feats), newest last

    def clear(self) -> None:
        self._entries = []

    def get(self, weights_id: str, imgs: Sequence[torch.Tensor]) -> Optional[torch.Tensor]:
        """Stored features if ``imgs`` are the very tensors stored (unchanged), else None."""
        for wid, stored, versions, feats in reversed(self._entries):
            if (wid == weights_id and len(stored) == len(imgs)
                    and all(a is b and a._version == v
                            for a, b, v in zip(imgs, stored, versions))):
                return feats
        return None

    def put(self, weights_id: str, imgs: Sequence[torch.Tensor], feats: torch.Tensor) -> None:
        self._entries.append((weights_id, list(imgs), [t._version for t in imgs], feats))
        del self._entries[:-self.size]


FAKE_MEMO = BatchFeatureMemo()


def clear_caches() -> None:
    """Forget in-memory real features and the fake-batch memo (disk files stay)."""
    _REAL_FEATS.clear()
    FAKE_MEMO.clear()

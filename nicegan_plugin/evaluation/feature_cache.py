"""Inception features computed once per evaluation and shared by FID and KID.

Real images (one pass per dataset/real_key/weights, for all metrics and all evaluations):
    :func:`real_features` keeps the raw (N, 2048) features in a process-wide dict keyed by
    :func:`real_feature_key` (dataset description, ``real_key``, ``real_nums``, sha256 of the
    Inception weights), and in a pickle on disk (``inception_pkl`` or
    ``$NICEGAN_FEAT_CACHE``/``~/.cache/openmmlab/mmagic/nicegan_inception_feat-<key>.pkl``),
    so a FID and a KID metric on the same real images, and later runs, reuse them.

Fake images (one pass per batch, for all metrics reading the same outputs):
    MMagic's ``Evaluator.process`` converts each output ``DataSample`` to a dict once and
    hands the *same* dicts to every metric, so a FID and a KID metric with the same
    ``fake_key`` receive the very same tensor objects. :data:`FAKE_MEMO` remembers the
    features of the last few batches together with (strong references to) their tensors; a
    metric whose batch is identical (``is``, same in-place version, same weights) reuses them.
"""
import hashlib
import os
import os.path as osp
import pickle
import tempfile
from copy import deepcopy
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine import print_log
from mmengine.dataset import pseudo_collate
from mmengine.dist import all_gather, get_dist_info, is_main_process
from torch.utils.data import DataLoader

CACHE_ENV_VAR = 'NICEGAN_FEAT_CACHE'
_REAL_FEATS: Dict[str, np.ndarray] = {}


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


def _dump_atomic(obj, path: str) -> None:
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.nicegan-feat-', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            pickle.dump(obj, f)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


@torch.no_grad()
def extract_real_features(dataloader: DataLoader, data_preprocessor: nn.Module, real_key: str,
                          real_nums: int, extract: Callable[[torch.Tensor], torch.Tensor]
                          ) -> np.ndarray:
    """Features of dataset items ``0 .. n-1`` (``n = len(dataset)`` or ``real_nums``), in order.

    Each rank takes items ``rank, rank + world, ...`` (wrapping round so all ranks do the
    same count); the gathered features are re-interleaved and trimmed, so the result is
    exactly the first ``n`` items whatever the world size. Images are
    ``data_preprocessor(batch, training=False)`` fields, i.e. BGR in [0, 255], as fakes are.
    """
    dataset = dataloader.dataset
    n = len(dataset) if real_nums == -1 else min(real_nums, len(dataset))
    rank, world = get_dist_info()
    per_rank = (n - 1) // world + 1
    loader = DataLoader(dataset, batch_size=dataloader.batch_size or 1,
                        sampler=[(i * world + rank) % n for i in range(per_rank)],
                        collate_fn=pseudo_collate, shuffle=False, drop_last=False)
    feats: List[torch.Tensor] = []
    for data in loader:
        samples = data_preprocessor(data, False)['data_samples']
        imgs = getattr(samples, real_key)
        if isinstance(imgs, torch.Tensor):
            feats.append(extract(imgs))
        else:  # un-stacked samples of different sizes
            feats += [extract(img[None]) for img in imgs]
    local = torch.cat(feats)
    gathered = torch.stack(all_gather(local))  # (world, per_rank, D)
    return gathered.transpose(0, 1).reshape(-1, local.shape[1])[:n].numpy()


def real_features(dataloader: DataLoader, data_preprocessor: nn.Module, real_key: str,
                  real_nums: int, weights_id: str,
                  extract: Callable[[torch.Tensor], torch.Tensor],
                  inception_pkl: Optional[str] = None, prefix: Optional[str] = None
                  ) -> Dict[str, np.ndarray]:
    """Real features, computed at most once per key and process.

    Order: an existing ``inception_pkl`` file (may also be an MMagic FID pickle holding only
    ``real_mean``/``real_cov``); the in-memory cache; the default cache pickle; extraction
    (then written to ``inception_pkl`` or the default cache pickle by rank 0).

    Returns:
        dict with ``raw_feature`` (N, D) float32 when available, else ``real_mean`` and
        ``real_cov`` only (MMagic pickle).
    """
    if inception_pkl and osp.isfile(inception_pkl):
        with open(inception_pkl, 'rb') as f:
            state = pickle.load(f)
        if state.get('weights', weights_id) != weights_id:
            raise ValueError(f'{prefix}: {inception_pkl} holds features of other Inception '
                             f"weights ({state['weights']}, now {weights_id}); delete it or "
                             'point inception_pkl elsewhere.')
        print_log(f'{prefix}: real Inception features from {inception_pkl}', 'current')
        return state
    key = real_feature_key(dataloader.dataset, real_key, real_nums, weights_id)
    path = inception_pkl or osp.join(default_cache_dir(), f'nicegan_inception_feat-{key}.pkl')
    if key not in _REAL_FEATS and osp.isfile(path):
        with open(path, 'rb') as f:
            _REAL_FEATS[key] = pickle.load(f)['raw_feature']
        print_log(f'{prefix}: real Inception features from {path}', 'current')
    if key not in _REAL_FEATS:
        print_log(f'{prefix}: extracting real Inception features ({real_key})', 'current')
        _REAL_FEATS[key] = extract_real_features(dataloader, data_preprocessor, real_key,
                                                 real_nums, extract)
    feats = _REAL_FEATS[key]
    if is_main_process() and not osp.isfile(path):
        _dump_atomic(dict(raw_feature=feats, key=key, real_key=real_key, weights=weights_id),
                     path)
        print_log(f'{prefix}: real Inception features saved to {path}', 'current')
    return dict(raw_feature=feats)


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
    """Forget in-memory real features and the fake-batch memo (disk pickles stay)."""
    _REAL_FEATS.clear()
    FAKE_MEMO.clear()

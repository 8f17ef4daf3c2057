"""Small, named compatibility fixes for the tested stack, applied on plugin import.

Each one is idempotent and tested in ``tests/test_compat.py``:

- :func:`allow_mmengine_checkpoints_in_weights_only_load`: torch >= 2.6 loads with
  ``weights_only=True`` by default, and mmengine 0.10.7 calls plain ``torch.load`` on
  its own checkpoints (``resume``, ``load_from``, ``tools/test.py``, ``init_model``),
  which hold a message hub (``HistoryBuffer``) and numpy scalars/arrays. We allow-list
  exactly those types instead of switching the safety off.
- :func:`fix_translation_inferencer_colours`: MMagic's ``TranslationInferencer.visualize``
  assumes a BGR model and swaps red and blue of RGB models (ours: the official weights
  take RGB). It now de-normalizes with the model's own data preprocessor, which gives
  the old result for BGR models (MMagic's CycleGAN) and the right one for RGB models;
  ``MMagicInferencer(model_name='cyclegan', ...)`` goes through it.
- :func:`make_local_checkpoint_writes_atomic`: mmengine's local file backend writes
  checkpoints in place, so a crash mid-write leaves a truncated ``iter_N.pth`` (and a
  ``last_checkpoint`` pointing at it). Writes now go to a temporary file in the same
  folder, are fsync-ed, then renamed over the target.
"""
import os
import pickle
import tempfile
from typing import List

import numpy as np
import torch

_APPLIED = set()


def _history_buffer_getattr(obj: object, name: str) -> object:
    """Stands in for ``builtins.getattr`` while unpickling, for one purpose only.

    ``HistoryBuffer.__getstate__`` stores its statistics functions, which pickle as
    ``getattr(HistoryBuffer, 'min')``. Allow-listing the real ``getattr`` would hand
    any attribute of any allowed object to the unpickler; this resolves exactly
    ``HistoryBuffer.<registered statistic>`` and refuses everything else.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'weights_only load refused getattr({obj!r}, {name!r}): only mmengine '
        'HistoryBuffer statistics are allowed')


def mmengine_checkpoint_safe_globals() -> List[object]:
    """The non-tensor globals an mmengine 0.10.7 checkpoint contains (message hub
    history buffers, numpy arrays and scalars in meta / runtime info)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    dtypes = [type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64,
                                           np.int32, np.uint8, np.bool_)]
    return [HistoryBuffer, np.core.multiarray._reconstruct, np.core.multiarray.scalar,
            np.ndarray, np.dtype, *dtypes, (_history_buffer_getattr, 'builtins.getattr')]


def allow_mmengine_checkpoints_in_weights_only_load() -> None:
    if 'weights_only' in _APPLIED or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_safe_globals())
    _APPLIED.add('weights_only')


def _atomic_put(self, obj: bytes, filepath) -> None:
    """``LocalBackend.put`` writing through a temporary file and ``os.replace``."""
    filepath = str(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(filepath) + '.', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def make_local_checkpoint_writes_atomic() -> None:
    if 'atomic_put' in _APPLIED:
        return
    from mmengine.fileio.backends.local_backend import LocalBackend
    LocalBackend.put = _atomic_put
    _APPLIED.add('atomic_put')


def fix_translation_inferencer_colours() -> None:
    if 'inferencer_colours' in _APPLIED:
        return
    from mmagic.apis.inferencers.translation_inferencer import TranslationInferencer
    from .apis.inferencer import NICEGANTranslationInferencer
    TranslationInferencer.visualize = NICEGANTranslationInferencer.visualize
    _APPLIED.add('inferencer_colours')


def apply_all() -> None:
    """Fixes that must be in place before mmagic's models are imported."""
    allow_mmengine_checkpoints_in_weights_only_load()
    make_local_checkpoint_writes_atomic()


def apply_after_import() -> None:
    """Fixes that need the plugin's own modules."""
    fix_translation_inferencer_colours()

"""The one change the plugin makes to another library, applied on import (tested in
``tests/test_compat.py``; listed in docs/install.md with the reason):

- :func:`allow_mmengine_checkpoints_in_weights_only_load`: torch >= 2.6 loads with
  ``weights_only=True`` by default, and mmengine 0.10.7 calls plain ``torch.load`` on
  its own checkpoints (``resume``, ``load_from``, ``tools/test.py``, ``init_model``),
  which hold a message hub (``HistoryBuffer``) and numpy scalars/arrays. We allow-list
  exactly those types instead of switching the safety off.

Checkpoints are written atomically by :class:`~nicegan_plugin.engine.NICEGANCheckpointHook`
(not by patching MMEngine's storage backend) and the inferencer colour fix is the
subclass :class:`~nicegan_plugin.apis.NICEGANTranslationInferencer`.
"""
import pickle
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


def apply_all() -> None:
    """The fixes the plugin needs, applied once on import."""
    allow_mmengine_checkpoints_in_weights_only_load()

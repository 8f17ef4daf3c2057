"""Training machinery: hooks, checkpoints, the guards of a run, the lr schedule, the
distributed wrappers, the config checks and the keys a config's data set decides, and the
runner that works them out.

Sub-rooms, one job each (lower ones first; each imports only those before it):

- ``config/``: the start-up config check and :func:`derive_keys` (the keys that follow from
  a data set's values);
- ``guards/``: what stops a run before it does harm: the non-finite guard, ``--resume``
  rules (never writing over work), the run lock (one run per work dir);
- ``distributed/``: the model wrappers that sync gradients across ranks;
- ``hooks/``: hooks that write what a run shows: CAM panels, test translations, metrics;
- ``checkpointing/``: saving checkpoints (the hook, its atomic backend, the training image
  size in ``meta``) and reading them (weights-only, strictly checked);
- ``launch/``: building and starting a run: ``NICEGANRunner``, the tools' runner set-up, the
  launcher watch;
- ``scheduler.py``: the official lr schedule.

Every public name is importable from here (``from nicegan_plugin.engine import X``).
"""
from .checkpointing.backend import AtomicLocalBackend
from .checkpointing.hook import NICEGANCheckpointHook
from .checkpointing.reading import (
    CheckpointReadError,
    check_state_dict,
    read_checkpoint,
    read_state_dict,
)
from .config.derived_keys import derive_keys
from .distributed.grad_sync import NICEGANGradSyncWrapper
from .distributed.wrapper import NICEGANDistributedWrapper
from .guards.nonfinite import NICEGANNonFiniteGuardHook
from .hooks.cam import NICEGANCAMVisualizationHook
from .hooks.metrics_dump import NICEGANDumpMetricsHook
from .hooks.translation_saver import NICEGANSaveTranslationsHook
from .launch.runner import NICEGANRunner
from .scheduler import NICEGANLinearDecayLR

__all__ = ['AtomicLocalBackend', 'NICEGANCheckpointHook', 'NICEGANDumpMetricsHook',
           'NICEGANLinearDecayLR', 'NICEGANDistributedWrapper', 'NICEGANGradSyncWrapper',
           'NICEGANSaveTranslationsHook', 'NICEGANCAMVisualizationHook',
           'NICEGANNonFiniteGuardHook', 'CheckpointReadError', 'check_state_dict',
           'read_checkpoint', 'read_state_dict', 'NICEGANRunner', 'derive_keys']

"""Training machinery: hooks, the lr schedule, the distributed wrappers, checkpoint I/O,
resume rules, the start-up config check, and the keys a config's data set decides (worked out
by ``derive_keys`` when ``NICEGANRunner`` or a tool builds the config)."""
from .checkpoint import AtomicLocalBackend, NICEGANCheckpointHook
from .checkpoint_io import CheckpointReadError, check_state_dict, read_checkpoint, read_state_dict
from .derived_keys import derive_keys
from .grad_sync_wrapper import NICEGANGradSyncWrapper
from .hooks import NICEGANCAMVisualizationHook
from .metrics_dump import NICEGANDumpMetricsHook
from .nonfinite import NICEGANNonFiniteGuardHook
from .runner import NICEGANRunner
from .scheduler import NICEGANLinearDecayLR
from .translation_saver import NICEGANSaveTranslationsHook
from .wrapper import NICEGANDistributedWrapper

__all__ = ['AtomicLocalBackend', 'NICEGANCheckpointHook', 'NICEGANDumpMetricsHook',
           'NICEGANLinearDecayLR', 'NICEGANDistributedWrapper', 'NICEGANGradSyncWrapper',
           'NICEGANSaveTranslationsHook', 'NICEGANCAMVisualizationHook',
           'NICEGANNonFiniteGuardHook', 'CheckpointReadError', 'check_state_dict',
           'read_checkpoint', 'read_state_dict', 'NICEGANRunner', 'derive_keys']

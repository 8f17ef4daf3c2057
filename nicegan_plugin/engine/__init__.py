"""Training machinery: hooks, the lr schedule, the distributed wrappers, checkpoint I/O,
resume rules and the start-up config check."""
from .checkpoint import AtomicLocalBackend, NICEGANCheckpointHook
from .checkpoint_io import CheckpointReadError, check_state_dict, read_checkpoint, read_state_dict
from .grad_sync_wrapper import NICEGANGradSyncWrapper
from .hooks import NICEGANCAMVisualizationHook
from .metrics_dump import NICEGANDumpMetricsHook
from .nonfinite import NICEGANNonFiniteGuardHook
from .scheduler import NICEGANLinearDecayLR
from .translation_saver import NICEGANSaveTranslationsHook
from .wrapper import NICEGANDistributedWrapper

__all__ = ['AtomicLocalBackend', 'NICEGANCheckpointHook', 'NICEGANDumpMetricsHook',
           'NICEGANLinearDecayLR', 'NICEGANDistributedWrapper', 'NICEGANGradSyncWrapper',
           'NICEGANSaveTranslationsHook', 'NICEGANCAMVisualizationHook',
           'NICEGANNonFiniteGuardHook', 'CheckpointReadError', 'check_state_dict',
           'read_checkpoint', 'read_state_dict']

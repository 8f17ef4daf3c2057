"""Training machinery: hooks, the lr schedule, the distributed wrapper, checkpoint I/O."""
from .checkpoint import AtomicLocalBackend, NICEGANCheckpointHook, check_state_dict, read_state_dict
from .dataset import NICEGANUnpairedImageDataset
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
           'NICEGANNonFiniteGuardHook', 'NICEGANUnpairedImageDataset', 'check_state_dict',
           'read_state_dict']

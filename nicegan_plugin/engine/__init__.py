from .hooks import NICEGANCAMVisualizationHook
from .scheduler import NICEGANLinearDecayLR
from .translation_saver import NICEGANSaveTranslationsHook
from .wrapper import NICEGANDistributedWrapper

__all__ = ['NICEGANLinearDecayLR', 'NICEGANDistributedWrapper', 'NICEGANSaveTranslationsHook',
           'NICEGANCAMVisualizationHook']

"""The networks (AdaLIN generator, multi-scale CAM discriminator whose first layers are the
encoder), the NICEGAN model and its decoupled ``train_step``, the losses."""
from .cyclegan_networks import NICEGANFixedInitPatchDiscriminator, NICEGANFixedInitResnetGenerator
from .discriminator import DiscriminatorOutput, NICEGANDiscriminator
from .generator import NICEGANGenerator
from .losses import NICEGANAdversarialLoss
from .nicegan import NICEGAN
from .norms import ILN, AdaILN

__all__ = ['NICEGAN', 'NICEGANGenerator', 'NICEGANDiscriminator', 'DiscriminatorOutput',
           'NICEGANAdversarialLoss', 'ILN', 'AdaILN', 'NICEGANFixedInitResnetGenerator',
           'NICEGANFixedInitPatchDiscriminator']

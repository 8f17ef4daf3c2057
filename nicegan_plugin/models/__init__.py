from .discriminator import DiscriminatorOutput, NICEDiscriminator
from .generator import NICEGenerator
from .losses import NICEAdversarialLoss
from .nicegan import NICEGAN
from .norms import ILN, AdaILN

__all__ = ['NICEGAN', 'NICEGenerator', 'NICEDiscriminator', 'DiscriminatorOutput',
           'NICEAdversarialLoss', 'ILN', 'AdaILN']

"""Training data: the checked unpaired dataset, its start-up data check, the toy set."""
from .data_check import DataCheckError, check_folder
from .dataset import ImageDecodeError, NICEGANUnpairedImageDataset
from .toy_data import make_toy_dataset

__all__ = ['DataCheckError', 'check_folder', 'ImageDecodeError', 'NICEGANUnpairedImageDataset',
           'make_toy_dataset']

"""Offline FID / KID for translation models (registers ``NICEGANTransFID`` and ``NICEGANTransKID``)."""
from .feature_cache import clear_caches
from .functional import (feature_stats, fid_from_features, frechet_distance,
                         kid_from_features, mmd2_unbiased, polynomial_kernel)
from .inception import (ENV_VAR, FIDInceptionFeatures, InceptionWeightsNotFound,
                        inception_features, load_inception, resolve_inception_path)
from .metrics import NICEGANTransFID, NICEGANTransKID

__all__ = [
    'ENV_VAR', 'FIDInceptionFeatures', 'InceptionWeightsNotFound', 'NICEGANTransFID',
    'NICEGANTransKID', 'clear_caches', 'feature_stats', 'fid_from_features', 'frechet_distance',
    'inception_features', 'kid_from_features', 'load_inception', 'mmd2_unbiased',
    'polynomial_kernel', 'resolve_inception_path'
]

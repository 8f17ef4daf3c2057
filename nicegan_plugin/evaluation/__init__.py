"""Offline FID and KID for translation models: ``NICEGANTransFID``, ``NICEGANTransKID``."""
from .feature_cache import clear_caches, load_features, save_features
from .folders import (
    FolderError,
    evaluate_folders,
    evaluate_test_translations,
    folder_features,
    format_report,
    list_images,
)
from .functional import (
    feature_stats,
    fid_from_features,
    frechet_distance,
    kid_from_features,
    mmd2_unbiased,
    polynomial_kernel,
)
from .inception import (
    ENV_VAR,
    FIDInception,
    FIDInceptionTrunk,
    InceptionWeightsError,
    InceptionWeightsNotFound,
    fid_helper_weights,
    inception_features,
    load_inception,
    resolve_inception_path,
)
from .metrics import NICEGANTransFID, NICEGANTransKID

__all__ = [
    'ENV_VAR', 'FIDInception', 'FIDInceptionTrunk', 'FolderError', 'InceptionWeightsError',
    'InceptionWeightsNotFound', 'NICEGANTransFID', 'NICEGANTransKID', 'clear_caches',
    'evaluate_folders', 'evaluate_test_translations', 'feature_stats', 'fid_from_features',
    'fid_helper_weights', 'folder_features', 'format_report', 'frechet_distance',
    'inception_features', 'kid_from_features', 'list_images', 'load_features',
    'load_inception', 'mmd2_unbiased', 'polynomial_kernel', 'resolve_inception_path',
    'save_features'
]

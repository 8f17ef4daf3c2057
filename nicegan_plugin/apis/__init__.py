"""Top layer: what tools and users call: loading a trained model, translating images,
the CAM panel, MMagic's inferencer for RGB models.

Used by ``tools/translate.py``, ``tools/test.py`` and the quickstart.
"""
from ..utils.image_io import IMAGE_EXTENSIONS, ImageReadError, collect_images, read_rgb, save_rgb
from ..visualization.cam import cam_panel, cam_panels, direction_panel, direction_rows
from .loading import load_model, model_image_size, resolve_direction
from .translation import (
    TranslationReport,
    images_from_files,
    translate_arrays,
    translate_images,
    translate_test_set,
)

__all__ = [
    'IMAGE_EXTENSIONS', 'ImageReadError', 'collect_images', 'read_rgb', 'save_rgb',
    'cam_panel', 'cam_panels', 'direction_panel', 'direction_rows', 'load_model',
    'model_image_size', 'resolve_direction', 'TranslationReport', 'images_from_files',
    'translate_arrays', 'translate_images', 'translate_test_set',
    'NICEGANTranslationInferencer'
]


def __getattr__(name: str):
    # imported on demand: mmagic.apis pulls in diffusers/transformers/controlnet_aux,
    # too heavy for every ``import nicegan_plugin.apis``
    if name == 'NICEGANTranslationInferencer':
        from .inferencer import NICEGANTranslationInferencer
        return NICEGANTranslationInferencer
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

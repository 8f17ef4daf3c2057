"""Top layer: what tools and users call: loading a trained model or an exported file,
translating images, folders and test sets, MMagic's inferencer, the web demo.

Every translation goes through one path (:mod:`nicegan_plugin.inference`).
"""
from ..deploy.backends import open_translator
from ..inference import Translator, model_image_size, resolve_direction
from ..utils.image_io import IMAGE_EXTENSIONS, ImageReadError, collect_images, read_rgb, save_rgb
from ..visualization.cam import cam_panel, cam_panels, direction_panel, direction_rows
from .loading import load_config, load_model, load_translator
from .translation import (
    TranslationReport,
    as_translator,
    images_from_files,
    translate_arrays,
    translate_images,
    translate_test_set,
)

__all__ = [
    'IMAGE_EXTENSIONS', 'ImageReadError', 'collect_images', 'read_rgb', 'save_rgb',
    'cam_panel', 'cam_panels', 'direction_panel', 'direction_rows', 'load_config',
    'load_model', 'load_translator', 'open_translator', 'Translator', 'model_image_size',
    'resolve_direction', 'TranslationReport', 'as_translator', 'images_from_files',
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

"""Inference helpers: model loading, file translation and the CAM visualization panel.

Used by ``tools/translate.py``, :class:`~nicegan_plugin.engine.hooks.NICEGANCAMVisualizationHook`
and the quickstart.
"""
from .image_io import ModelIO, colorize_heatmap, eval_mode, resize_rgb, unwrap
from .translate import (IMAGE_EXTENSIONS, ImageReadError, TranslationReport,
                        check_state_dict, collect_images, images_from_files, load_model,
                        model_image_size, read_rgb, read_state_dict, resolve_direction,
                        save_rgb, translate_arrays, translate_images)
from .visualization import ROWS, cam_panel, cam_panels, direction_panel, direction_rows

__all__ = [
    'ModelIO', 'colorize_heatmap', 'eval_mode', 'resize_rgb', 'unwrap', 'IMAGE_EXTENSIONS',
    'ImageReadError', 'TranslationReport', 'check_state_dict', 'collect_images',
    'images_from_files', 'load_model', 'model_image_size', 'read_rgb', 'read_state_dict',
    'resolve_direction', 'save_rgb', 'translate_arrays', 'translate_images', 'ROWS',
    'cam_panel', 'cam_panels', 'direction_panel', 'direction_rows',
    'NICEGANTranslationInferencer'
]


def __getattr__(name: str):
    # imported on demand: mmagic.apis pulls in diffusers/transformers/controlnet_aux,
    # too heavy for every ``import nicegan_plugin`` (the hooks import this package)
    if name == 'NICEGANTranslationInferencer':
        from .inferencer import NICEGANTranslationInferencer
        return NICEGANTranslationInferencer
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

"""Bottom layer: helpers with no dependency on the rest of the plugin."""
from .fileio import atomic_path, atomic_torch_save, atomic_write
from .image_io import (
                       IMAGE_EXTENSIONS,
                       ImageReadError,
                       collect_images,
                       is_image_file,
                       read_rgb,
                       resize_rgb,
                       save_rgb,
)
from .model_utils import eval_mode, model_device, model_domains, unwrap
from .pixels import ModelIO, quantize, to_model_range, to_uint8

__all__ = ['atomic_path', 'atomic_torch_save', 'atomic_write', 'IMAGE_EXTENSIONS',
           'ImageReadError', 'collect_images', 'is_image_file', 'read_rgb', 'resize_rgb',
           'save_rgb', 'eval_mode', 'model_device', 'model_domains', 'unwrap', 'ModelIO',
           'quantize', 'to_model_range', 'to_uint8']

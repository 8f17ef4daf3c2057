"""The one translation path: translators (one direction of a model behind one
interface), pixel conversion, and translating images of any size, whole or tile by tile.

Layer: above ``models``; ``deploy``, ``visualization``, ``engine`` and ``apis`` build on it.
"""
from ..utils.pixels import (
    PIXEL_SCALE,
    ModelIO,
    colorize_heatmap,
    overlay_heatmap,
    pad_to,
    quantize,
    to_model_range,
    to_uint8,
)
from .pipeline import ModelOrTranslator, as_translator, parse_memory, translate_arrays
from .translator import (
    META_KEY,
    SIZE_MULTIPLE,
    SPEC_VERSION,
    TorchTranslator,
    Translator,
    TranslatorNet,
    config_image_size,
    direction_table,
    is_nicegan,
    model_image_size,
    other_domain,
    resolve_direction,
    translator_net,
    translator_spec,
)

__all__ = ['ModelOrTranslator', 'as_translator', 'parse_memory', 'translate_arrays',
           'PIXEL_SCALE', 'ModelIO', 'colorize_heatmap', 'overlay_heatmap', 'pad_to',
           'quantize', 'to_model_range', 'to_uint8', 'META_KEY', 'SIZE_MULTIPLE',
           'SPEC_VERSION', 'TorchTranslator', 'Translator', 'TranslatorNet',
           'config_image_size', 'direction_table', 'is_nicegan', 'model_image_size',
           'other_domain', 'resolve_direction', 'translator_net', 'translator_spec']

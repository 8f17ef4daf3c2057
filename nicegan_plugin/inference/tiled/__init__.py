"""Exact tiled translation of light NICE-GAN models: any photo size in bounded memory.

Translation A->B is ``generator(encoder.encode(x))``. Convolutions are local, but every
ILN/AdaILN of the generator normalises with statistics of the WHOLE feature map, and the
light generator's AdaILN parameters come from a global average of the stem output, so
tiles translated on their own get seams and colour shifts. Here the network runs stage
by stage over a grid of tiles, and the result equals the whole-image one to float32
rounding (docs/large_images.md):

- :mod:`.nicegan`: the translation as passes; each norm layer is a barrier (the only
  module that knows the network);
- :mod:`.stats`: per-tile moments merged in float64 into the whole map's statistics;
- :mod:`.graph`: per-tile evaluation; convolutions read halos from neighbouring tiles;
- :mod:`.plan`: the tile grid and the passes over it (and dry runs);
- :mod:`.storage`: the full-size maps between passes (temporary files or RAM);
- :mod:`.translate`: :func:`tiled_translate`, :func:`check_tile`, :func:`min_tile`,
  :func:`store_bytes`;
- :mod:`.memory`: memory estimates and the whole-or-tiled choice for a budget.
"""
from .errors import ImageTooLargeError, TilingError, format_bytes
from .memory import (
    IMAGE_BYTES_PER_PIXEL,
    choose_mode,
    estimate_tiled_bytes,
    estimate_whole_bytes,
)
from .storage import STORAGE_KINDS
from .translate import check_tile, min_tile, store_bytes, tiled_translate

__all__ = ['ImageTooLargeError', 'TilingError', 'format_bytes', 'choose_mode',
           'estimate_tiled_bytes', 'estimate_whole_bytes', 'IMAGE_BYTES_PER_PIXEL',
           'STORAGE_KINDS', 'check_tile', 'min_tile', 'store_bytes', 'tiled_translate']

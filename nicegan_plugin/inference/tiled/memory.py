"""How much memory a translation adds, and whether to translate whole or tiled.

The estimates are the peak memory a translation adds to the loaded model and the input
tensor (the network's feature maps or tiles, the float32 output and heatmap), calibrated
on the CPU (see the constants); that is what a budget covers, not the libraries, the
model or the image's own arrays (:data:`IMAGE_BYTES_PER_PIXEL`). :func:`choose_mode` picks whole
(faster, when it fits) or tiled, and the tile, for a budget (``--max-memory``).
"""
from typing import Optional, Tuple

import torch.nn as nn

from . import nicegan
from .errors import ImageTooLargeError, format_bytes
from .plan import split
from .translate import OUTPUT_BYTES_PER_PIXEL, check_tile, min_tile, store_bytes

# Calibration of the two estimates: peak RSS added by one translation (VmHWM minus VmRSS
# with the model and the input loaded, each run in its own process) of the paper's
# networks (ch = 64) on the CPU, tools/measure_tiling.py, 2-core AMD EPYC, torch 2.13,
# 2026-12-06. Whole image, 0.25-24 MP: 613-677 bytes per pixel (fit: 673 B/px + 9 MiB),
# so 11 B/px/ch (704 B/px) + 64 MiB is above every run. Tiled, working set beyond the
# output tensor: 52 MB (tile 256), 200-247 MB (tile 512, 1-24 MP), 254 MB (tile 1024 on
# 4 MP: balanced tiles of 868x772); 10 B/px/ch x (tile + 16)^2 + 128 MiB is above every run.
# A small model (ch 8, 2000x2400, tests/inference/test_budget.py, 2026-12-08) added 129
# B/px whole: a part that does not scale with ch (input copies, output, heatmap), hence
# the 48 B/px term below (752 B/px at ch = 64, 136 at ch = 8).
# On CUDA (max_memory_allocated) the same formulas are used; not calibrated there.
#: bytes per image pixel per base channel of the whole-image pass
WHOLE_BYTES_PER_PIXEL_CHANNEL = 11.0
#: bytes per image pixel of the whole-image pass that do not grow with the channels
WHOLE_BYTES_PER_PIXEL = 48.0
#: bytes per pixel (of one tile with its halo) per base channel of a tiled pass
TILE_BYTES_PER_PIXEL_CHANNEL = 10.0
#: allocator slack and small buffers of a whole-image / a tiled translation (bytes)
WHOLE_FIXED_BYTES = 64 * 1024 ** 2
TILE_FIXED_BYTES = 128 * 1024 ** 2
#: host bytes per image pixel a native-size translation holds BESIDE the budget
#: (``--max-memory`` budgets the network's part only): the decoded uint8 image (3) and its
#: float32 input (12) while the network runs; decoding a JPEG peaks at ~18 before them.
#: Measured: 15.7 (translation) and 17.9 (decode) B/px on 8000x6000, see
#: docs/large_images.md; tests/inference/test_budget.py holds the process to it.
IMAGE_BYTES_PER_PIXEL = 20


def estimate_whole_bytes(encoder: nn.Module, generator: nn.Module, height: int,
                         width: int) -> int:
    """Peak memory a whole-image translation adds (bytes), beyond the loaded model and
    the input tensor: ``(WHOLE_BYTES_PER_PIXEL_CHANNEL * ch + WHOLE_BYTES_PER_PIXEL) * H * W
    + WHOLE_FIXED_BYTES`` (calibration: the comment above the constants)."""
    nicegan.check_models(encoder, generator)
    per_pixel = WHOLE_BYTES_PER_PIXEL_CHANNEL * nicegan.base_channels(generator) + \
        WHOLE_BYTES_PER_PIXEL
    return int(per_pixel * height * width + WHOLE_FIXED_BYTES)


def estimate_tiled_bytes(encoder: nn.Module, generator: nn.Module, height: int,
                         width: int, tile: int, storage: str = 'disk',
                         device: str = 'cpu') -> int:
    """Peak memory a tiled translation adds (bytes), beyond the model and the input.

    ``TILE_BYTES_PER_PIXEL_CHANNEL * ch * (th + 16) * (tw + 16)`` for the grid's tiles of
    ``th x tw`` (at most ``tile``, balanced over the image) ``+ TILE_FIXED_BYTES``, plus on
    the host the output and heatmap (``OUTPUT_BYTES_PER_PIXEL``; on a CUDA device they are
    not in device memory) and with ``storage='memory'`` the stored maps
    (:func:`~.translate.store_bytes`). Calibration: the comment above the constants.
    """
    a, b = tiled_terms(encoder, generator, height, width, storage, device)
    return int(a * tile_area(tile, height, width) + b)


def tiled_terms(encoder: nn.Module, generator: nn.Module, height: int, width: int,
                storage: str, device: str) -> Tuple[float, float]:
    """(a, b) of ``estimate_tiled_bytes = a * tile_area(tile) + b``."""
    nicegan.check_models(encoder, generator)
    fixed = float(TILE_FIXED_BYTES)
    if str(device).startswith('cpu'):
        fixed += OUTPUT_BYTES_PER_PIXEL * height * width
        if storage == 'memory':
            fixed += store_bytes(encoder, generator, height, width)
    return TILE_BYTES_PER_PIXEL_CHANNEL * nicegan.base_channels(generator), fixed


def tile_area(tile: int, height: int, width: int) -> int:
    """(th + 16) * (tw + 16) for the largest tile of the balanced grid (see
    :func:`~.plan.split`)."""
    t = max(tile // 4, 1)
    th, tw = (4 * max(b - a for a, b in split(n // 4, t)) for n in (height, width))
    return (th + 16) * (tw + 16)


def choose_mode(encoder: nn.Module, generator: nn.Module, height: int, width: int,
                budget: int, tile: Optional[int] = None, storage: str = 'disk',
                device: str = 'cpu') -> Tuple[str, Optional[int], str]:
    """How to translate one image within ``budget`` bytes (``--max-memory``; on CUDA the
    caller passes the free device memory and ``device='cuda'``).

    Whole-image translation is faster, so it is chosen whenever its estimate fits;
    otherwise tiled with ``tile``, or when ``tile`` is None the largest tile (a multiple
    of 32 up to the image side, at least :func:`~.translate.min_tile`) whose estimate fits.

    Returns:
        ``('whole', None, reason)`` or ``('tiled', tile, reason)``; ``reason`` is one
        line for the log.

    Raises:
        TilingError: a full model, or a tile below the smallest.
        ImageTooLargeError: not even the tiled estimate fits the budget (the message
            says the smallest budget that does).
    """
    whole = estimate_whole_bytes(encoder, generator, height, width)
    if whole <= budget:
        return 'whole', None, (f'whole image ~{format_bytes(whole)} fits the budget of '
                               f'{format_bytes(budget)}')
    smallest = min_tile(encoder, generator)
    a, b = tiled_terms(encoder, generator, height, width, storage, device)
    side = -(-max(height, width) // 4) * 4
    candidates = [side] + list(range(side // 32 * 32, smallest - 1, -32)) + [smallest]
    fit = next((t for t in candidates if a * tile_area(t, height, width) + b <= budget), None)
    if tile is None:
        tile = fit or smallest
    else:
        check_tile(encoder, generator, tile)
    tiled = estimate_tiled_bytes(encoder, generator, height, width, tile, storage, device)
    if tiled > budget:
        least = estimate_tiled_bytes(encoder, generator, height, width, smallest, storage,
                                     device)
        advice = (f'use a smaller --tile ({fit} px fits)' if fit else
                  f'raise --max-memory to at least {format_bytes(least)} (tiles of '
                  f'{smallest} px, the smallest)')
        raise ImageTooLargeError(f'{height}x{width} needs ~{format_bytes(tiled)} even tiled '
                                 f'with tile {tile}, over the budget of '
                                 f'{format_bytes(budget)}: {advice}')
    return 'tiled', tile, (f'whole image ~{format_bytes(whole)} > budget '
                           f'{format_bytes(budget)}; tiles of {tile} px '
                           f'~{format_bytes(tiled)}')

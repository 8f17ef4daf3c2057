"""Tiled translation of one image, and what a tile size must satisfy.

:func:`tiled_translate` checks the image, the tile (:func:`check_tile`, the one place a
tile is validated) and the free space, then runs the NICE-GAN passes (:mod:`.nicegan`)
over the tile grid (:mod:`.plan`). :func:`min_tile` and :func:`store_bytes` come from a
dry run of the same passes.
"""
import tempfile
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn

from . import nicegan
from .errors import TilingError, format_bytes
from .plan import Plan
from .storage import STORAGE_KINDS, check_space

Tensor = torch.Tensor

#: tile sizes (image pixels) that the advice of :func:`check_tile` names as good ones
GOOD_TILES = '128-1024'
#: host bytes per image pixel of a tiled translation's float32 output and heatmap
OUTPUT_BYTES_PER_PIXEL = 13


def dry_run(encoder: nn.Module, generator: nn.Module, height: int, width: int,
            tile: int) -> Plan:
    """The passes of a translation without computing them (see :class:`~.plan.Plan`)."""
    nicegan.check_models(encoder, generator)
    plan = Plan(height, width, tile, torch.device('meta'), 'dry')
    x = torch.empty(1, 3, height, width, device='meta')
    with torch.no_grad():
        nicegan.translate(encoder, generator, x, plan, None, torch.empty(0, device='meta'))
    return plan


def store_bytes(encoder: nn.Module, generator: nn.Module, height: int, width: int) -> int:
    """Peak bytes of the maps a tiled translation stores (disk or host memory).

    They are h/4 x w/4 x 4ch float32 (stem output, conv1 and conv2 outputs, block
    inputs; 64 bytes per image pixel at ch = 64): conv1's pass of block i >= 1 reads X(i-1)
    and b(i-1) while it writes X(i) and a(i), four at once. Counted by a dry run of the
    passes; ``tiled_translate(..., info=...)`` reports the real peak.
    """
    return dry_run(encoder, generator, height, width, 1 << 30).peak_bytes


def min_tile(encoder: nn.Module, generator: nn.Module) -> int:
    """Smallest ``tile`` (image pixels, a multiple of 4) for these networks.

    The widest halo any pass reads around its tile (7 image pixels for NICE-GAN: the
    encoder's two 4x4 stride-2 convs and the stem's 3x3 conv, in the first pass) must
    lie within the neighbouring tiles, and a quarter-resolution tile must hold the 2
    pixels a reflection pad of 1 needs. Measured on a dry run of the passes.
    """
    halo = dry_run(encoder, generator, 256, 256, 4).halo
    return max(8, -(-halo // 4) * 4)


def check_tile(encoder: nn.Module, generator: nn.Module, tile: int) -> None:
    """TilingError (one line, one advice) unless ``tile`` is a tile size these networks
    can run: an integer of at least :func:`min_tile` (it is rounded down to a multiple
    of 4). Every path that takes a tile size asks here."""
    need = min_tile(encoder, generator)
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < need:
        raise TilingError(f'tile {tile!r} is smaller than the {need} px this network\'s '
                          f'halos need: use a tile of {need} px or more ({GOOD_TILES} px '
                          'are good sizes)')


def check_image(encoder: nn.Module, generator: nn.Module, x: Tensor) -> None:
    """TilingError unless ``x`` is an image the passes take, on the models' device, and
    the models are in eval mode."""
    nicegan.check_models(encoder, generator)
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise TilingError(f'tiled translation takes one RGB image (1, 3, H, W), got '
                          f'{tuple(x.shape)}')
    if x.dtype != torch.float32:
        raise TilingError(f'tiled translation runs in float32, got {x.dtype}')
    h, w = x.shape[2:]
    if h % 4 or w % 4 or min(h, w) < 8:
        raise TilingError(f'image size {h}x{w} must be multiples of 4 and at least 8x8: '
                          'pad the image first (--native-size pads it)')
    for name, module in (('encoder', encoder), ('generator', generator)):
        if module.training:
            raise TilingError(f'the {name} is in training mode: call .eval() first '
                              '(spectral norm would advance its power iteration per pass)')
        p = next(module.parameters())
        if p.device != x.device:
            raise TilingError(f'the {name} is on {p.device} but the image is on '
                              f'{x.device}: move them to the same device')


def tiled_translate(encoder: nn.Module, generator: nn.Module, x: Tensor, tile: int,
                    heatmap: bool = False, *, storage: str = 'disk',
                    workdir: Optional[str] = None,
                    progress: Optional[Callable[[int, int], None]] = None,
                    log: Optional[Callable[[str], None]] = None,
                    info: Optional[dict] = None) -> Tuple[Tensor, Optional[Tensor]]:
    """Translate one image tile by tile, equal to ``generator(encoder.encode(x))``.

    Args:
        encoder: the source domain's :class:`NICEGANDiscriminator` (eval mode).
        generator: the target domain's light :class:`NICEGANGenerator` (eval mode).
        x: (1, 3, H, W) float32 RGB in [-1, 1], H and W multiples of 4 (the caller
            pads), on the device the tiles run on (CPU or CUDA; the models too).
        tile: tile side in image pixels (rounded down to a multiple of 4, at least
            :func:`min_tile`); edge tiles are balanced, not remainders.
        heatmap: also return the CAM heatmap ``z.sum(1)``.
        storage: where the full-size intermediate maps live: ``'disk'`` (unlinked
            temporary files: RSS bounded by the tile) or ``'memory'`` (host RAM:
            faster, :func:`store_bytes` more RSS).
        workdir: folder of the temporary files (default: ``tempfile.gettempdir()``).
        progress: called as ``progress(done_passes, total_passes)`` after each pass.
        log: called with one line saying the grid, passes and temporary storage.
        info: filled with ``passes``, ``tiles``, ``store_peak_bytes``.

    Returns:
        ``(y, heat)``: (1, 3, H, W) float32 CPU tensor in [-1, 1] and (1, 1, H/4, W/4)
        float32 CPU tensor or None. Equal to the whole-image result to float32 rounding
        (measured ~2e-6; the tests hold it to 1e-4).

    Raises:
        TilingError: a full (non-light) model, a tile below :func:`min_tile`, a size
            that is not a multiple of 4; :class:`~.errors.ImageTooLargeError` (a
            TilingError): too little disk / host memory for the maps.
    """
    if storage not in STORAGE_KINDS:
        raise TilingError(f'storage must be one of {STORAGE_KINDS}, got {storage!r}')
    check_image(encoder, generator, x)
    check_tile(encoder, generator, tile)
    h, w = x.shape[2:]
    workdir = workdir or tempfile.gettempdir()
    maps = store_bytes(encoder, generator, h, w)
    check_space(f'{h}x{w}', maps, storage, workdir, host_bytes=h * w * OUTPUT_BYTES_PER_PIXEL)
    y = torch.empty(1, 3, h, w)
    heat = torch.empty(1, 1, h // 4, w // 4) if heatmap else None
    plan = Plan(h, w, tile, x.device, storage, workdir, progress,
                nicegan.num_passes(generator))
    if log is not None:
        where = f'files in {workdir}' if storage == 'disk' else 'host memory'
        log(f'tiled translation of {h}x{w}: {len(plan.rows)}x{len(plan.cols)} tiles of at '
            f'most {4 * max(tile // 4, 1)} px, {plan.total_passes} passes, up to '
            f'{format_bytes(maps)} of maps in {where}')
    try:
        with torch.no_grad():
            nicegan.translate(encoder, generator, x, plan, heat, y)
    finally:
        plan.close()
    if info is not None:
        info.update(passes=plan.passes, tiles=len(plan.rows) * len(plan.cols),
                    store_peak_bytes=plan.peak_bytes)
    return y, heat

"""Translating RGB images of any size through a :class:`~.translator.Translator`: the one
translation path (resizing, padding, tiling, overlays) every tool and API uses."""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch.nn as nn
from PIL import Image

from ..utils.image_io import resize_rgb
from ..utils.model_utils import model_domains
from ..utils.pixels import overlay_heatmap, pad_to, to_model_range, to_uint8
from .translator import TorchTranslator, Translator, other_domain

Log = Callable[[str], None]
#: what the translation functions take: a translator, or a loaded model
ModelOrTranslator = Union[nn.Module, Translator]

#: smallest side translated without a warning (the encoder sees 4x4 px per feature)
MIN_SIDE = 16


def parse_memory(text: str) -> int:
    """Bytes of a size like ``'8G'``, ``'512M'``, ``'1.5GiB'`` or ``'1000000'``."""
    units = {'': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}
    s = str(text).strip().upper().replace('IB', '').replace('B', '')
    unit = s[-1] if s and s[-1] in units else ''
    try:
        value = float(s[:-1] if unit else s)
    except ValueError:
        raise ValueError(f'cannot read the memory size {text!r}; write e.g. 8G or 512M') \
            from None
    if value <= 0:
        raise ValueError(f'memory size must be positive, got {text!r}')
    return int(value * units[unit])


def as_translator(model: ModelOrTranslator, target_domain: Optional[str] = None,
                  heatmaps: bool = True) -> Translator:
    """``model`` itself if it is a translator (checked to translate into
    ``target_domain`` when given), else the in-process translator of the model's
    direction into ``target_domain``."""
    if isinstance(model, Translator):
        if target_domain is not None and model.target_domain != target_domain:
            raise ValueError(f'{model.origin} translates into {model.target_domain}, '
                             f'not {target_domain}')
        return model
    domains = model_domains(model)
    if target_domain not in domains:
        raise ValueError(f'unknown target domain {target_domain!r}; the model has {domains}')
    source = other_domain(domains, target_domain)
    return TorchTranslator(model, f'{source}2{target_domain}', heatmap=heatmaps)


def translate_arrays(model: ModelOrTranslator, images: Sequence[np.ndarray],
                     target_domain: Optional[str] = None,
                     size: Optional[Tuple[int, int]] = None, keep_size: bool = True,
                     heatmaps: bool = False, native_size: bool = False,
                     tile: Optional[int] = None, max_memory: Optional[int] = None,
                     log: Optional[Log] = None
                     ) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]]]:
    """Translate HxWx3 RGB uint8 images (any sizes) into ``target_domain``.

    Args:
        model: a :class:`~.translator.Translator` (e.g. an exported file; its direction
            is fixed) or a loaded model (its eval-mode networks: the EMA generator when
            on), translated into ``target_domain`` (required for a model).
        size: network input (height, width) when resizing; default: the training size.
        keep_size: resize outputs back to the inputs' sizes (bicubic); ignored with
            ``native_size``.
        heatmaps: also return the CAM heatmap (JET) blended 50/50 over each input.
        native_size: no resizing: each image is reflect-padded at the bottom/right to the
            nearest size the network takes (multiples of 4, at least its minimum),
            translated, and cropped back (light models only).
        tile: with ``native_size``: translate tile by tile with tiles of this many
            pixels, exactly (:mod:`.tiled`), so memory is bounded by the tile.
        max_memory: with ``native_size``: a budget in bytes for the memory the network
            adds to translate one image (its feature maps and the float32 output; not
            the loaded model, nor the image's own arrays, at most
            :data:`~.tiled.IMAGE_BYTES_PER_PIXEL` per pixel beside it); each image is
            translated whole when its estimate fits, else tiled (``tile`` or the largest
            tile that fits); ``log`` says which and why.

    Returns:
        (translations, overlays or None), RGB uint8, in the order of ``images``.

    Raises:
        ValueError: options this translator cannot serve (checked before any image).
        ImageTooLargeError: an image that does not fit ``max_memory`` or the free disk /
            host memory (:mod:`.tiled`); callers translating folders skip it.
    """
    translator = as_translator(model, target_domain, heatmaps)
    if heatmaps and not translator.has_heatmap:
        raise ValueError(f'{translator.origin} has no heatmap output (export it with '
                         '--heatmap; MMagic models other than NICE-GAN have none)')
    if (tile is not None or max_memory is not None) and not native_size:
        raise ValueError('--tile and --max-memory apply to --native-size translation '
                         '(resized translation runs at the training size)')
    if native_size:
        translator.native_size(1, 1)  # raises for fixed-size translators
    if tile is not None or max_memory is not None:
        translator.check_tile(tile)
    size = tuple(size or translator.image_size)
    outs: List[Optional[np.ndarray]] = [None] * len(images)
    overlays: Optional[List[Optional[np.ndarray]]] = [None] * len(images) if heatmaps else None
    groups: Dict[Tuple[int, int], List[int]] = {}
    for i, im in enumerate(images):
        if log and min(im.shape[:2]) < MIN_SIDE:
            log(f'warning: image {i} is only {im.shape[0]}x{im.shape[1]} px; the '
                'translation of so small an image means little')
        shape = translator.native_size(*im.shape[:2]) if native_size else size
        groups.setdefault(shape, []).append(i)
    for shape, indices in groups.items():
        batch = [pad_to(images[i], shape) if native_size else resize_rgb(images[i], shape)
                 for i in indices]
        if native_size and (tile is not None or max_memory is not None):
            fake, heat = _translate_one_by_one(translator, batch, tile, max_memory, log)
        else:
            fake, heat = translator.translate(batch)
        for j, i in enumerate(indices):
            h, w = images[i].shape[:2]
            if native_size:
                outs[i] = np.ascontiguousarray(fake[j][:h, :w])
                base, heat_size = images[i], shape
            else:
                out_size = (h, w) if keep_size else size
                outs[i] = resize_rgb(fake[j], out_size, Image.BICUBIC)
                base, heat_size = resize_rgb(images[i], out_size), None
            if overlays is not None:
                overlays[i] = overlay_heatmap(base, heat[j], heat_size)
    return outs, overlays


def _translate_one_by_one(translator: Translator, batch: Sequence[np.ndarray],
                          tile: Optional[int], max_memory: Optional[int],
                          log: Optional[Log]) -> Tuple[List[np.ndarray], Optional[List]]:
    """Each image whole or tiled (one at a time: tiling is for images that do not fit).

    ``max_memory`` budgets what the network adds (:func:`~.tiled.choose_mode`); the
    image's own arrays beside it are kept to the uint8 image and the float32 input while
    it runs (:func:`~nicegan_plugin.utils.pixels.to_model_range` and ``to_uint8`` convert by
    bands of rows)."""
    fakes, heats = [], []
    for image in batch:
        h, w = image.shape[:2]
        mode, use_tile, why = 'tiled', tile, f'--tile {tile}'
        if max_memory is not None:
            mode, use_tile, why = translator.choose_mode(h, w, max_memory, tile)
        if log:
            log(f'{h}x{w}: {mode}' + (f' (tile {use_tile})' if mode == 'tiled' else '') +
                f': {why}')
        x = to_model_range(image[None])
        y, heat = (translator.forward_tiled(x, use_tile, log=log) if mode == 'tiled'
                   else translator.forward(x))
        del x
        fakes.append(to_uint8(y)[0])
        heats.append(heat[0, 0] if heat is not None else None)
        del y
    return fakes, (heats if heats[0] is not None else None)

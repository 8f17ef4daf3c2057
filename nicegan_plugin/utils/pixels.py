"""Pixels in and out of a model or a translator: the one home of pixel scaling, padding
and the heatmap overlay.

Translators (:mod:`nicegan_plugin.inference.translator`) take and return RGB in
[-1, 1], (N, 3, H, W) float32: ``x = (rgb_uint8 - 127.5) / 127.5`` in,
``round(clip(y * 127.5 + 127.5, 0, 255))`` out.
:class:`ModelIO` converts between that and a model's own space, which its
``DataPreprocessor`` defines (the NICE-GAN configs use ``mean=std=127.5``,
``output_channel_order='RGB'``, i.e. the same space; MMagic's CycleGAN configs keep BGR).
Resizing is :func:`nicegan_plugin.utils.image_io.resize_rgb`.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn

from .image_io import resize_rgb
from .model_utils import model_device, unwrap

#: RGB uint8 <-> [-1, 1]: x = (rgb - PIXEL_SCALE) / PIXEL_SCALE
PIXEL_SCALE = 127.5


#: image rows converted at a time by :func:`to_model_range` and :func:`to_uint8`, so
#: that converting a large image adds only its result, no full-size temporaries
BAND_ROWS = 256


def to_model_range(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) RGB uint8 -> (N, 3, H, W) float32 in [-1, 1] (by bands of
    :data:`BAND_ROWS` rows: 12 bytes per pixel, the result's own)."""
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    out = np.empty((n, 3, h, w), np.float32)
    for r in range(0, h, BAND_ROWS):
        band = images[:, r:r + BAND_ROWS].astype(np.float32).transpose(0, 3, 1, 2)
        out[:, :, r:r + BAND_ROWS] = (band - np.float32(PIXEL_SCALE)) / np.float32(PIXEL_SCALE)
    return out


def to_uint8(x: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) float in [-1, 1] -> (N, H, W, 3) RGB uint8 (round half to even; by
    bands of :data:`BAND_ROWS` rows: 3 bytes per pixel, the result's own)."""
    x = np.asarray(x)
    n, _, h, w = x.shape
    out = np.empty((n, h, w, 3), np.uint8)
    for r in range(0, h, BAND_ROWS):
        y = np.asarray(x[:, :, r:r + BAND_ROWS], dtype=np.float32) * np.float32(PIXEL_SCALE) \
            + np.float32(PIXEL_SCALE)
        out[:, r:r + BAND_ROWS] = quantize(y).transpose(0, 2, 3, 1)
    return out


def quantize(x: np.ndarray) -> np.ndarray:
    """Float pixel values in [0, 255] -> uint8 (clipped, rounded half to even): the one
    rounding every written image goes through."""
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def pad_to(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Reflect-pad an HxWx3 image at the bottom and right to ``size`` (>= its own)."""
    dh, dw = size[0] - image.shape[0], size[1] - image.shape[1]
    return np.pad(image, ((0, dh), (0, dw), (0, 0)), mode='reflect') if dh or dw else image


def colorize_heatmap(heatmap: np.ndarray, size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Official ``utils.cam``: min-max normalize, to uint8, resize, JET colour map.

    Args:
        heatmap: (h, w) or (1, h, w) or (h, w, 1) array.
        size: output (height, width); default: the heatmap's size.

    Returns:
        (H, W, 3) BGR uint8 (OpenCV's colour maps are BGR).
    """
    x = np.asarray(heatmap, dtype=np.float32).squeeze()  # official: float32 throughout
    if x.ndim != 2:
        raise ValueError(f'heatmap must be 2-D after squeezing, got shape {heatmap.shape}')
    x = x - x.min()
    peak = x.max()
    # a constant map would divide by zero (NaN in the official code): draw it as 0
    x = x / peak if peak > 0 else x
    img = np.uint8(255 * x)
    if size is not None and img.shape != tuple(size):
        img = cv2.resize(img, (size[1], size[0]))
    return cv2.applyColorMap(img, cv2.COLORMAP_JET)


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray,
                    heat_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """The CAM heatmap (JET) blended 50/50 over an HxWx3 RGB uint8 ``image``.

    ``heat_size``: the size to draw the heatmap at before cropping it to the image's
    size (a padded input's heatmap is drawn at the padded size, then cropped like the
    output); default: the image's size."""
    h, w = image.shape[:2]
    color = colorize_heatmap(heatmap, heat_size or (h, w))[:h, :w, ::-1]
    return ((image.astype(np.uint16) + color) // 2).astype(np.uint8)


def resize_all(images: Sequence[np.ndarray], size: Tuple[int, int]) -> np.ndarray:
    """(N, H, W, 3) uint8 batch of images resized (bilinear, PIL) to ``size``."""
    return np.stack([resize_rgb(im, size) for im in images])


class ModelIO:
    """Converts between RGB uint8 / the translators' [-1, 1] RGB and a model's own space.

    Args:
        model: a translation model (or wrapper); its ``data_preprocessor`` gives the
            normalization and the channel order its networks expect.
    """

    def __init__(self, model: nn.Module) -> None:
        model = unwrap(model)
        pre = model.data_preprocessor
        self.device = model_device(model)
        normalize = getattr(pre, '_enable_normalize', False)
        mean = getattr(pre, 'mean', None) if normalize else None
        std = getattr(pre, 'std', None) if normalize else None
        self.mean = (mean if mean is not None else torch.zeros(1)).float().view(-1, 1, 1).cpu()
        self.std = (std if std is not None else torch.ones(1)).float().view(-1, 1, 1).cpu()
        # MMagic loads BGR; output_channel_order None keeps it, 'RGB' converts
        self.model_is_bgr = getattr(pre, 'output_channel_order', 'RGB') in (None, 'BGR')

    @property
    def affine(self) -> bool:
        """Whether the model's scaling differs from the translators' (mean = std = 127.5)."""
        return not bool(torch.all(self.mean == PIXEL_SCALE) and torch.all(self.std == PIXEL_SCALE))

    def to_input(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, 3, H, W) float tensor on the model's device from HxWx3 RGB uint8
        arrays of one common size."""
        batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
        if self.model_is_bgr:
            batch = batch.flip(1)
        # contiguous NCHW, like to_model_range's: a strided input can take another
        # convolution kernel and differ in the last float bits (1 grey level in places)
        return ((batch - self.mean) / self.std).contiguous().to(self.device)

    def to_rgb(self, tensor: torch.Tensor) -> np.ndarray:
        """(B, H, W, 3) RGB uint8 from a model-space (B, 3, H, W) tensor."""
        x = tensor.detach().float().cpu() * self.std + self.mean
        if self.model_is_bgr:
            x = x.flip(1)
        return quantize(x.numpy()).transpose(0, 2, 3, 1)

    def to_bgr255(self, tensor: torch.Tensor) -> torch.Tensor:
        """Model-space (..., 3, H, W) -> BGR float in [0, 255] (unrounded, on the
        tensor's device): the layout of MMagic's ``fake_*`` outputs and ``img_*`` samples,
        which its metrics and hooks expect."""
        mean, std = self.mean.to(tensor), self.std.to(tensor)
        x = tensor * std + mean
        return x if self.model_is_bgr else x.flip(-3)

    def to_bgr(self, tensor: torch.Tensor) -> np.ndarray:
        """(B, H, W, 3) BGR uint8 (OpenCV order) from a model-space tensor."""
        return np.ascontiguousarray(self.to_rgb(tensor)[..., ::-1])

    def from_unit_rgb(self, x: torch.Tensor) -> torch.Tensor:
        """Translators' [-1, 1] RGB (B, 3, H, W) -> the model's space (the tensor itself
        when the spaces agree, as in the NICE-GAN configs)."""
        if self.model_is_bgr:
            x = x.flip(1)
        if self.affine:
            mean, std = self.mean.to(x).unsqueeze(0), self.std.to(x).unsqueeze(0)
            x = (x * PIXEL_SCALE + PIXEL_SCALE - mean) / std
        return x

    def to_unit_rgb(self, x: torch.Tensor) -> torch.Tensor:
        """The model's space (B, 3, H, W) -> translators' [-1, 1] RGB."""
        if self.affine:
            mean, std = self.mean.to(x).unsqueeze(0), self.std.to(x).unsqueeze(0)
            x = ((x * std + mean) - PIXEL_SCALE) / PIXEL_SCALE
        return x.flip(1) if self.model_is_bgr else x

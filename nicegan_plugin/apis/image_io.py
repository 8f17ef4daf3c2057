"""Conversions between ordinary RGB uint8 images and a NICE-GAN model's tensors.

The model works in the space its ``DataPreprocessor`` produces (the configs use
``mean=std=127.5``, ``output_channel_order='RGB'``: RGB in [-1, 1]). Reading the
preprocessor's own mean/std/channel order, instead of hard-coding them, keeps
these helpers right for any config, e.g. one that keeps MMagic's BGR order.
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper
from PIL import Image


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside an mmengine model wrapper (or the model itself)."""
    return model.module if is_model_wrapper(model) else model


def model_device(model: nn.Module) -> torch.device:
    return next(unwrap(model).parameters()).device


class ModelIO:
    """Turns RGB uint8 arrays into model inputs and model outputs back into images.

    Args:
        model: a NICE-GAN model (or wrapper); its ``data_preprocessor`` gives the
            normalization and the channel order the networks expect.
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

    def to_input(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, 3, H, W) float tensor on the model's device from HxWx3 RGB uint8
        arrays of one common size."""
        batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
        if self.model_is_bgr:
            batch = batch.flip(1)
        return ((batch - self.mean) / self.std).to(self.device)

    def to_rgb(self, tensor: torch.Tensor) -> np.ndarray:
        """(B, H, W, 3) RGB uint8 from a model-space (B, 3, H, W) tensor."""
        x = tensor.detach().float().cpu() * self.std + self.mean
        if self.model_is_bgr:
            x = x.flip(1)
        return x.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy()

    def to_bgr(self, tensor: torch.Tensor) -> np.ndarray:
        """(B, H, W, 3) BGR uint8 (OpenCV order) from a model-space tensor."""
        return np.ascontiguousarray(self.to_rgb(tensor)[..., ::-1])


def resize_rgb(image: np.ndarray, size: Tuple[int, int],
               resample: int = Image.BILINEAR) -> np.ndarray:
    """Resize an HxWx3 uint8 array to ``size`` = (height, width) with PIL.

    Bilinear PIL is what the configs' ``Resize(backend='pillow')`` and the
    official ``transforms.Resize`` use on the way in.
    """
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), resample))


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode and no_grad inside the block; every submodule's own previous
    ``training`` flag is restored after (not just the top-level one).

    Eval mode matters beyond dropout/BN here: spectral norm runs a power iteration
    (changing its ``u``/``v`` buffers) on every forward in train mode.
    """
    flags: List[Tuple[nn.Module, bool]] = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, flag in flags:
            m.training = flag


def colorize_heatmap(heatmap: np.ndarray, size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Official ``utils.cam``: min-max normalize, to uint8, resize, JET colour map.

    Args:
        heatmap: (h, w) or (1, h, w) or (h, w, 1) array.
        size: output (height, width); default: the heatmap's size.

    Returns:
        (H, W, 3) BGR uint8 (OpenCV's colour maps are BGR).
    """
    import cv2
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

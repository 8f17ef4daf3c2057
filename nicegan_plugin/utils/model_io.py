"""Conversions between ordinary RGB uint8 images and a NICE-GAN model's tensors.

The model works in the space its ``DataPreprocessor`` produces (the configs use
``mean=std=127.5``, ``output_channel_order='RGB'``: RGB in [-1, 1]). Reading the
preprocessor's own mean/std/channel order, instead of hard-coding them, keeps
these helpers right for any config, e.g. one that keeps MMagic's BGR order.
"""
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from .model_utils import model_device, unwrap


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

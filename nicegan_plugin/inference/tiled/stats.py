"""Normalisation statistics of a full-size map gathered tile by tile.

Every ILN/AdaILN normalises with the mean and variance of the WHOLE map. A pass over the
tiles merges each tile's per-channel moments (:class:`Stats`); :func:`norm_affine` then
turns them into the per-channel affine map the norm layer applies, exactly as
:mod:`nicegan_plugin.models.norms` does for the whole map.
"""
import math
from typing import Tuple

import numpy as np
import torch
import torch.nn as nn

from .errors import TilingError

Tensor = torch.Tensor


class Stats:
    """Per-channel count, mean and sum of squared deviations of a map, merged over tiles.

    Each tile contributes its float32 per-channel mean and biased variance (two-pass,
    like ``var_mean``; on the CPU from the batch-norm statistics kernel, ~10x faster than
    ``var_mean`` there); tiles are merged in float64 with Chan et al.'s pairwise update,
    so the result matches one reduction over the whole map to float32 rounding whatever
    the map's offset (a float32 sum of squares would cancel).
    """

    def __init__(self, channels: int) -> None:
        self.count = 0
        self.mean = np.zeros(channels, np.float64)
        self.m2 = np.zeros(channels, np.float64)

    def add(self, t: Tensor) -> None:
        """Merge a (1, C, h, w) tile."""
        n = t.shape[2] * t.shape[3]
        mean, var = tile_moments(t)
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * (n / total)
        self.m2 += var * n + delta * delta * (self.count * n / total)
        self.count = total

    def moments(self) -> Tuple[np.ndarray, np.ndarray, float, float]:
        """Instance (per channel) and layer (over C, H, W) means and UNBIASED variances
        (``torch.var``, as :func:`~nicegan_plugin.models.norms.ins_layer_norm`)."""
        n, c = self.count, self.mean.shape[0]
        if not (np.isfinite(self.mean).all() and np.isfinite(self.m2).all()):
            raise TilingError('non-finite feature statistics in tiled translation: the '
                              'input or the model\'s weights hold inf or NaN')
        mean_ln = float(self.mean.mean())
        m2_ln = float(self.m2.sum() + n * ((self.mean - mean_ln) ** 2).sum())
        return self.mean, self.m2 / (n - 1), mean_ln, m2_ln / (c * n - 1)


def tile_moments(t: Tensor) -> Tuple[np.ndarray, np.ndarray]:
    """Float64 per-channel mean and biased variance of a (1, C, h, w) tile.

    On the CPU from ``native_batch_norm`` with ``eps = 0``, whose ``invstd`` is
    ``1 / sqrt(var)`` except for a flat channel (var = 0: a constant tile, e.g. in a
    uniform band of a photo), where the kernel returns 0, not inf: its variance is 0,
    not ``0 ** -2`` (which once made every flat tile's channel infinite).
    """
    if t.device.type == 'cpu':
        _, mean, invstd = torch.native_batch_norm(t, None, None, None, None, True, 0.0, 0.0)
        invstd = invstd.double()
        var = torch.where(invstd > 0, invstd.pow(-2), torch.zeros_like(invstd))
    else:
        var, mean = torch.var_mean(t, dim=(0, 2, 3), correction=0)
    return mean.double().cpu().numpy(), var.double().cpu().numpy()


def norm_affine(norm: nn.Module, stats: Stats, gamma: Tensor, beta: Tensor,
                device: torch.device) -> Tuple[Tensor, Tensor]:
    """Float32 (1, C, 1, 1) ``scale, shift`` with ``norm(x) = x * scale + shift``.

    The formula of :func:`~nicegan_plugin.models.norms.ins_layer_norm` (``softmax(rho)``
    mixes instance and layer terms, ``eps`` inside the square roots), evaluated in
    float64 from the merged statistics and cast once.
    """
    mean_in, var_in, mean_ln, var_ln = stats.moments()
    w = torch.softmax(norm.rho.detach().double(), dim=2).view(-1, 2).cpu().numpy()
    g = gamma.detach().double().flatten().cpu().numpy()
    b = beta.detach().double().flatten().cpu().numpy()
    c_in = w[:, 0] / np.sqrt(var_in + norm.eps)
    c_ln = w[:, 1] / math.sqrt(var_ln + norm.eps)
    scale = (c_in + c_ln) * g
    shift = b - g * (c_in * mean_in + c_ln * mean_ln)

    def cast(a: np.ndarray) -> Tensor:
        return torch.from_numpy(a).to(device=device, dtype=torch.float32).view(1, -1, 1, 1)

    return cast(scale), cast(shift)

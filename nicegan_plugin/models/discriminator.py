"""NICE-GAN's discriminator, whose first layers are the domain's encoder.

Layout for ``num_layers`` = n (official ``Discriminator(ndf=ch, n_layers=n)``)::

    encoder        2 x (reflect-pad 1, SN conv4 s2, LeakyReLU)          3 -> 2ch, H/4
    CAM            GAP|GMP -> SN linear (cam logit); features re-weighted by the RAW
                   linear weight, conv1x1 4ch->2ch, z = lrelu(gamma * . + x)
    trunk          (n-6) x (SN conv4 s2)  shared by both heads            (official Dis0_0)
    local          SN conv4 s1 + SN conv4 s1 head -> (B,1,h,w)             (Dis0_1, conv0)
    global         2 x SN conv4 s2, SN conv4 s1, SN conv4 s1 head          (Dis1_0, Dis1_1, conv1)

Every conv pads by reflection; heads and the CAM linear have no bias.
"""
from typing import List, NamedTuple, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmagic.registry import MODELS
from mmengine.model import BaseModule
from torch.nn.utils import parametrize

from .spectral_norm import OfficialSpectralNorm, spectral_norm


class DiscriminatorOutput(NamedTuple):
    """All outputs of a full discriminator pass (the official 5-tuple order)."""
    local_logit: torch.Tensor   # (B, 1, h_l, w_l)
    global_logit: torch.Tensor  # (B, 1, h_g, w_g)
    cam_logit: torch.Tensor     # (B, 1)
    heatmap: torch.Tensor       # (B, 1, H/4, W/4): channel sum of z
    z: torch.Tensor             # (B, 2ch, H/4, W/4): the encoder features


def _sn_conv(c_in: int, c_out: int, stride: int, bias: bool = True) -> nn.Module:
    return spectral_norm(nn.Conv2d(c_in, c_out, 4, stride, 0, bias=bias))


def _down(c_in: int, c_out: int, stride: int) -> List[nn.Module]:
    return [nn.ReflectionPad2d(1), _sn_conv(c_in, c_out, stride), nn.LeakyReLU(0.2, True)]


@MODELS.register_module()
class NICEGANDiscriminator(BaseModule):
    """Multi-scale discriminator with CAM attention whose front is the encoder.

    Interface used by :class:`NICEGAN` (a replacement module must provide it):

    - ``forward(x) -> DiscriminatorOutput`` (local, global, cam logits, heatmap, z);
    - ``encode(x) -> z`` : the encoder features alone (translation);
    - ``advance_head_power_iterations()``: the spectral-norm power iteration of every
      layer that :meth:`encode` does not touch, so that
      ``encode`` + ``advance_head_power_iterations`` leaves exactly the state a full
      train-mode forward leaves (the official G step runs full forwards).

    Args:
        in_channels: image channels.
        base_channels: ``ch`` (ndf).
        num_layers: official ``n_dis``; >= 6 (5 and below do not build officially).
        init_cfg: mmengine init config; ``None`` keeps PyTorch's default init.
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 num_layers: int = 7,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 6:
            raise ValueError(
                f'NICEGANDiscriminator needs num_layers >= 6 (official n_dis), got {num_layers}')
        ch, n = base_channels, num_layers
        self.num_layers = num_layers
        # creation order follows the official code (RNG order of default init)
        encoder = _down(in_channels, ch, 2) + _down(ch, 2 * ch, 2)
        self.cam_fc = spectral_norm(nn.Linear(4 * ch, 1, bias=False))
        self.cam_conv = nn.Conv2d(4 * ch, 2 * ch, 1, 1, bias=True)
        self.lrelu = nn.LeakyReLU(0.2, True)
        # the paper's learnable residual weight (official state-dict key: ``lamda``)
        self.gamma = nn.Parameter(torch.zeros(1))
        trunk = []
        for i in range(2, n - 4):
            trunk += _down(ch * 2**(i - 1), ch * 2**i, 2)
        local_body = _down(ch * 2**(n - 5), ch * 2**(n - 4), 1)
        self.local_head = _sn_conv(ch * 2**(n - 4), 1, 1, bias=False)
        global_down = []
        for i in range(n - 4, n - 2):
            global_down += _down(ch * 2**(i - 1), ch * 2**i, 2)
        global_body = _down(ch * 2**(n - 3), ch * 2**(n - 2), 1)
        self.global_head = _sn_conv(ch * 2**(n - 2), 1, 1, bias=False)
        self.pad = nn.ReflectionPad2d(1)
        self.encoder = nn.Sequential(*encoder)
        self.trunk = nn.Sequential(*trunk)
        self.local_body = nn.Sequential(*local_body)
        self.global_down = nn.Sequential(*global_down)
        self.global_body = nn.Sequential(*global_body)

    # ------------------------------------------------------------------ shapes
    def _chain(self, size: int) -> Tuple[int, int, int]:
        """(z, local, global) sizes along one axis; bare ValueError if a pad fails."""

        def down(s: int, stride: int) -> int:
            if s < 2:  # ReflectionPad2d(1) needs at least 2 pixels
                raise ValueError
            return (s + 2 - 4) // stride + 1

        s = z = down(down(size, 2), 2)
        for _ in range(self.num_layers - 6):
            s = down(s, 2)
        local = down(down(s, 1), 1)
        glob = down(down(down(down(s, 2), 2), 1), 1)
        if min(local, glob) < 1:
            raise ValueError
        return z, local, glob

    def min_input_size(self) -> int:
        """Smallest square input this discriminator can process."""
        for size in range(8, 1 << 14):
            try:
                self._chain(size)
                return size
            except ValueError:
                continue
        raise RuntimeError('no valid input size')  # pragma: no cover

    def output_sizes(self, height: int, width: int) -> Tuple[Tuple[int, int], ...]:
        """Spatial sizes (z, local, global) for an input, or a ValueError naming
        the smallest size that works when a reflection pad would fail."""
        try:
            hz, hl, hg = self._chain(height)
            wz, wl, wg = self._chain(width)
        except ValueError:
            need = self.min_input_size()
            raise ValueError(
                f'NICEGANDiscriminator(num_layers={self.num_layers}) cannot process a '
                f'{height}x{width} input: its global head needs inputs of at least '
                f'{need}x{need} px. Use a larger image size or a smaller num_layers '
                f'(n_dis).') from None
        return (hz, wz), (hl, wl), (hg, wg)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(
                f'NICEGANDiscriminator expects (B, C, H, W) input, got {tuple(x.shape)}')
        self.output_sizes(x.shape[2], x.shape[3])

    # ----------------------------------------------------------------- forward
    def attend(self, x: torch.Tensor) -> torch.Tensor:
        """CAM attention: encoder features (B, 2ch, h, w) -> z of the same shape, by the
        raw (un-normalized) CAM linear weight, a 1x1 conv and the learned residual weight
        gamma. Per pixel, so tiled translation applies it tile by tile."""
        raw_w = self.cam_fc.parametrizations.weight.original  # (1, 4ch)
        h = torch.cat([x, x], 1) * raw_w[:, :, None, None]
        return self.lrelu(self.gamma * self.cam_conv(h) + x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder features z (B, 2ch, H/4, W/4) of images (B, C, H, W) in [-1, 1]."""
        self._check_input(x)
        return self.attend(self.encoder(x))

    def forward(self, x: torch.Tensor) -> DiscriminatorOutput:
        self._check_input(x)
        feat = self.encoder(x)
        pooled = torch.cat([F.adaptive_avg_pool2d(feat, 1), F.adaptive_max_pool2d(feat, 1)], 1)
        cam_logit = self.cam_fc(pooled.flatten(1))
        z = self.attend(feat)
        heatmap = torch.sum(z, dim=1, keepdim=True)
        h = self.trunk(z)
        local_logit = self.local_head(self.pad(self.local_body(h)))
        global_logit = self.global_head(self.pad(self.global_body(self.global_down(h))))
        return DiscriminatorOutput(local_logit, global_logit, cam_logit, heatmap, z)

    def advance_head_power_iterations(self) -> None:
        """One spectral-norm power iteration on every layer outside the encoder.

        The power iteration depends on the weights only, not on the input, so this
        reproduces the state change of the heads' part of a full train-mode forward
        without computing it (nor the normalized weights).
        """
        if not self.training:
            return
        for name, module in self.named_modules():
            if name.startswith('encoder') or not parametrize.is_parametrized(module, 'weight'):
                continue
            for p in module.parametrizations.weight:
                if isinstance(p, OfficialSpectralNorm):
                    p.power_iteration(module.parametrizations.weight.original)

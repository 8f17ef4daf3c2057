"""NICE-GAN's generator: a decoder only (the encoder is the discriminator's front).

Input is the encoder output ``z`` (B, 2*ch, H/4, W/4) of the *source* domain's
discriminator; output is an image (B, out_channels, H, W) in [-1, 1].
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmagic.registry import MODELS
from mmengine.model import BaseModule

from .norms import ILN, AdaILN


class AdaILNResBlock(nn.Module):
    """Residual block: (pad, conv3x3, AdaILN, ReLU, pad, conv3x3, AdaILN) + x.

    No activation after the addition; convs have no bias (official ``use_bias=False``).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.pad1 = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 0, bias=False)
        self.norm1 = AdaILN(channels)
        self.relu1 = nn.ReLU(True)
        self.pad2 = nn.ReflectionPad2d(1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 0, bias=False)
        self.norm2 = AdaILN(channels)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor,
                beta: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.norm1(self.conv1(self.pad1(x)), gamma, beta))
        out = self.norm2(self.conv2(self.pad2(out)), gamma, beta)
        return out + x


@MODELS.register_module()
class NICEGANGenerator(BaseModule):
    """Decoder-only generator of NICE-GAN (official ``ResnetGenerator``).

    Structure: ``stem`` (conv3x3 2ch->4ch + ILN + ReLU), an MLP giving one (gamma,
    beta) pair shared by every AdaILN, ``num_blocks`` AdaILN residual blocks, then
    ``upsample``: two (conv3x3 + ILN + ReLU + conv1x1 + PixelShuffle(2) + ILN +
    ReLU) stages and a 7x7 conv + tanh.

    Args:
        out_channels: image channels produced.
        base_channels: ``ch`` of the paper (ngf = ndf).
        num_blocks: residual blocks (paper: 6; NICE-GAN*: 4).
        img_size: training size; only the full (non-light) MLP depends on it.
        light: pool the stem output before the MLP (paper's NICE-GAN) instead of
            flattening it (a (img/4)^2 * 4ch -> 4ch Linear tied to ``img_size``).
        init_cfg: mmengine init config; ``None`` keeps PyTorch's default init, which
            is what the official code uses.
    """

    def __init__(self,
                 out_channels: int = 3,
                 base_channels: int = 64,
                 num_blocks: int = 6,
                 img_size: int = 256,
                 light: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_blocks < 0:
            raise ValueError(f'num_blocks must be >= 0, got {num_blocks}')
        ch = base_channels
        self.light = light
        self.img_size = img_size
        self.num_blocks = num_blocks
        # the official attribute creation order (stem conv, MLP, gamma/beta, blocks,
        # upsample) is kept so that a seeded init draws the same numbers.
        stem_conv = nn.Conv2d(2 * ch, 4 * ch, 3, 1, 0, bias=True)
        stem_norm = ILN(4 * ch)
        mlp_in = 4 * ch if light else (img_size // 4) * (img_size // 4) * 4 * ch
        mlp = [nn.Linear(mlp_in, 4 * ch, bias=False), nn.ReLU(True),
               nn.Linear(4 * ch, 4 * ch, bias=False), nn.ReLU(True)]
        self.fc_gamma = nn.Linear(4 * ch, 4 * ch, bias=False)
        self.fc_beta = nn.Linear(4 * ch, 4 * ch, bias=False)
        self.res_blocks = nn.ModuleList(
            AdaILNResBlock(4 * ch) for _ in range(num_blocks))
        up = []
        for mult in (4, 2):
            c_in, c_out = ch * mult, ch * mult // 2
            up += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3, 1, 0, bias=False),
                   ILN(c_out), nn.ReLU(True),
                   nn.Conv2d(c_out, c_out * 4, 1, 1, bias=True), nn.PixelShuffle(2),
                   ILN(c_out), nn.ReLU(True)]
        up += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_channels, 7, 1, 0, bias=False),
               nn.Tanh()]
        self.mlp = nn.Sequential(*mlp)
        self.stem = nn.Sequential(nn.ReflectionPad2d(1), stem_conv, stem_norm, nn.ReLU(True))
        self.upsample = nn.Sequential(*up)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode encoder features (B, 2ch, h, w) into an image (B, C, 4h, 4w)."""
        x = self.stem(z)
        if self.light:
            style = F.adaptive_avg_pool2d(x, 1).flatten(1)
        else:
            expected = self.mlp[0].in_features
            if x[0].numel() != expected:
                raise ValueError(
                    f'the full (light=False) NICEGANGenerator was built for img_size='
                    f'{self.img_size}; got features {tuple(x.shape[1:])} from an input of '
                    f'{4 * x.shape[2]}x{4 * x.shape[3]} px. Resize inputs to '
                    f'{self.img_size}x{self.img_size} or use light=True.')
            style = x.flatten(1)
        style = self.mlp(style)
        # (B, C, 1, 1) once for all blocks (AdaILN also takes (B, C))
        gamma = self.fc_gamma(style).view(style.shape[0], -1, 1, 1)
        beta = self.fc_beta(style).view(style.shape[0], -1, 1, 1)
        for block in self.res_blocks:
            x = block(x, gamma, beta)
        return self.upsample(x)

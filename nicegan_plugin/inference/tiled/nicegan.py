"""NICE-GAN's translation ``generator(encoder.encode(x))`` as passes over a tile grid:
the only part of tiled translation that knows the network.

Every ILN/AdaILN is a barrier: one pass gathers its statistics, the next normalises.
The passes (light generator, ``n`` residual blocks; 18 for n = 6):

1. encoder + CAM attention -> ``z`` (and the heatmap ``z.sum(1)``); stem conv: stored;
2. per residual block: conv1 (stores the block input ``X`` while it reads it; the
   first one also sums the stem output for the style MLP), conv2: stored;
3. upsampling: a 3x3 conv (stored) or 1x1 conv + PixelShuffle (statistics only,
   recomputed from the 4x smaller map before it) per norm, then the final 7x7 conv
   and tanh, written into the output.
"""
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...models import ILN, AdaILN
from .errors import TilingError
from .graph import Add, Conv, Input, Node, Norm, Pointwise, Stored, Upsample, leaves, to_host
from .plan import Plan
from .stats import Stats, norm_affine

Tensor = torch.Tensor
Tap = Tuple[Node, Callable]


def check_models(encoder: nn.Module, generator: nn.Module) -> None:
    """One-line TilingError unless these are a light NICE-GAN decoder and its encoder."""
    if not getattr(generator, 'light', True):
        raise TilingError('a full (light=False) NICE-GAN generator translates only at its '
                          f'training size ({getattr(generator, "img_size", "?")} px), so it '
                          'cannot be tiled: resize instead of --native-size, or use a light '
                          'model')
    for name in ('stem', 'mlp', 'fc_gamma', 'fc_beta', 'res_blocks', 'upsample'):
        if not hasattr(generator, name):
            raise TilingError(f'{type(generator).__name__} is not a NICEGANGenerator (no '
                              f'.{name}); tiled translation supports light NICE-GAN models')
    if not all(hasattr(encoder, name) for name in ('encoder', 'cam_fc', 'cam_conv', 'gamma')):
        raise TilingError(f'{type(encoder).__name__} is not a NICEGANDiscriminator (no '
                          '.encoder/.cam_fc/.cam_conv/.gamma); tiled translation needs the '
                          'NICE-GAN encoder')


def num_passes(generator: nn.Module) -> int:
    """Number of passes a translation runs (for progress reports)."""
    ups = sum(isinstance(m, ILN) for m in generator.upsample)
    return 1 + 2 * len(generator.res_blocks) + ups + 1


def base_channels(generator: nn.Module) -> int:
    """``ch`` of the generator (input channels of its last 7x7 conv): the memory
    estimates scale with it."""
    return generator.stem[1].out_channels // 4


def translate(encoder: nn.Module, generator: nn.Module, x: Tensor, plan: Plan,
              heat: Optional[Tensor], y: Tensor) -> None:
    """``y = generator(encoder.encode(x))`` and ``heat = z.sum(1)`` (if not None), pass
    by pass over ``plan``'s tiles (a dry plan computes nothing)."""
    z = encode(encoder, Input(x))
    taps = () if heat is None else ((z, write_into(heat, lambda t: t.sum(1, keepdim=True))),)
    h, s0 = stem(generator, z, plan, taps)
    style = Style(generator, plan.h4 * plan.w4, x.device)
    h, taps = residual_blocks(generator, h, s0, plan, style)
    upsample(generator, h, plan, taps, y)


def encode(encoder: nn.Module, x: Node) -> Node:
    """``z``: the encoder's convolutions, then its CAM attention (per pixel)."""
    node = x
    for pad, m in padded_layers(encoder.encoder, 'the encoder'):
        if isinstance(m, nn.Conv2d):
            node = Conv(node, m, pad)
        elif isinstance(m, nn.LeakyReLU):
            node = Pointwise(node, leaky_relu(m.negative_slope))
        else:
            raise TilingError(f'unsupported layer {type(m).__name__} in the encoder')
    return Pointwise(node, lambda t, inplace: encoder.attend(t),
                     channels=encoder.cam_conv.out_channels, cache=True)


def stem(generator: nn.Module, z: Node, plan: Plan, taps: Tuple[Tap, ...]
         ) -> Tuple[Node, Stored]:
    """Pass 1: ``relu(ILN(conv(z)))``; returns it and the stored conv output."""
    (pad, conv), (_, norm), (_, relu) = padded_layers(generator.stem, 'stem')
    if not (isinstance(norm, ILN) and isinstance(relu, nn.ReLU)):
        raise TilingError('unsupported generator stem for tiled translation')
    stats, s0 = plan.run(Conv(z, conv, pad), store=True, stats=True, taps=taps)
    return Norm(s0, stats, lambda: norm_affine(norm, stats, norm.gamma, norm.beta,
                                               plan.device), relu=True, cache=True), s0


class Style:
    """The AdaILN parameters of the light generator: ``gamma, beta = fc(mlp(mean(h)))``
    of the stem output ``h``, whose sum :meth:`tap` gathers tile by tile."""

    def __init__(self, generator: nn.Module, pixels: int, device: torch.device) -> None:
        self.generator, self.pixels, self.device = generator, pixels, device
        self.total: Optional[np.ndarray] = None
        self.params: Dict[str, Tensor] = {}

    def tap(self, t: Tensor, r, c) -> None:
        s = t.sum(dim=(0, 2, 3)).double().cpu().numpy()
        self.total = s if self.total is None else self.total + s

    def gamma_beta(self) -> Tuple[Tensor, Tensor]:
        if not self.params:
            mean = torch.from_numpy(self.total / self.pixels).to(self.device, torch.float32)
            s = self.generator.mlp(mean.view(1, -1))
            self.params['gamma'] = self.generator.fc_gamma(s).view(1, -1, 1, 1)
            self.params['beta'] = self.generator.fc_beta(s).view(1, -1, 1, 1)
        return self.params['gamma'], self.params['beta']

    def affine(self, norm: AdaILN, stats: Stats) -> Callable[[], Tuple[Tensor, Tensor]]:
        """``norm``'s scale and shift, computed when first needed."""
        return lambda: norm_affine(norm, stats, *self.gamma_beta(), self.device)


def residual_blocks(generator: nn.Module, h: Node, s0: Stored, plan: Plan, style: Style
                    ) -> Tuple[Node, Tuple[Tap, ...]]:
    """Two passes per block, ``h + AdaILN(conv2(relu(AdaILN(conv1(h)))))``. The first
    conv1 pass also sums ``h`` for the style; later ones store the block input ``h`` (a
    lazy sum) while they read it. Returns the residual stream and the taps still due."""
    dev = plan.device
    taps: Tuple[Tap, ...] = ((h, style.tap),)
    previous: Tuple[Node, ...] = ()  # stored maps the current h reads
    for block in generator.res_blocks:
        if not all(isinstance(m, AdaILN) for m in (block.norm1, block.norm2)):
            raise TilingError('unsupported residual block for tiled translation')
        x_store = None
        if not taps:
            x_store = plan.new_store(h)
            taps = ((h, lambda t, r, c, s=x_store: s.write(r[0], c[0], to_host(t))),)
        a_stats, a = plan.run(Conv(h, block.conv1, block.pad1.padding[0]),
                              store=True, stats=True, taps=taps)
        if x_store is not None:
            plan.release(*previous)
            h = Stored(x_store, dev)
            previous = (h,)
        else:
            previous = (s0,)
        taps = ()
        b_stats, b = plan.run(Conv(Norm(a, a_stats, style.affine(block.norm1, a_stats),
                                        relu=True), block.conv2, block.pad2.padding[0]),
                              store=True, stats=True)
        plan.release(a)
        h = Add(Norm(b, b_stats, style.affine(block.norm2, b_stats), relu=False), h,
                cache=True)
        previous = previous + (b,)
    # (the upsampling's first pass reads the residual stream for the last time and
    # releases its maps with the other leaves it read)
    return h, taps


def upsample(generator: nn.Module, node: Node, plan: Plan, taps: Tuple[Tap, ...],
             y: Tensor) -> None:
    """The upsampling layers: after a 3x3 conv a norm's pass stores its input, after a
    1x1 conv + PixelShuffle it gathers statistics only (recomputed from the smaller map
    before it); the last pass writes the output into ``y``."""
    layers = list(padded_layers(generator.upsample, 'upsample'))
    i = 0
    while i < len(layers):
        pad, m = layers[i]
        nxt = layers[i + 1][1] if i + 1 < len(layers) else None
        if isinstance(m, nn.Conv2d) and isinstance(nxt, nn.PixelShuffle):
            node, i = Upsample(node, m, nxt.upscale_factor), i + 2
        elif isinstance(m, nn.Conv2d):
            node, i = Conv(node, m, pad), i + 1
        elif isinstance(m, ILN):
            relu = isinstance(nxt, nn.ReLU)
            stats, stored = plan.run(node, store=node.spatial, stats=True, taps=taps)
            taps = ()
            if stored is not node:  # the maps this pass read are not read again
                plan.release(*leaves(node))
            node = Norm(stored, stats, lambda m=m, s=stats: norm_affine(
                m, s, m.gamma, m.beta, plan.device), relu=relu)
            i += 2 if relu else 1
        elif isinstance(m, (nn.ReLU, nn.Tanh)):
            fn = torch.relu_ if isinstance(m, nn.ReLU) else torch.tanh_
            slow = torch.relu if isinstance(m, nn.ReLU) else torch.tanh
            node = Pointwise(node, lambda t, inplace, fn=fn, slow=slow:
                             fn(t) if inplace else slow(t))
            i += 1
        else:
            raise TilingError(f'unsupported layer {type(m).__name__} in generator.upsample')
    plan.run(node, sink=write_into(y), taps=taps)


def padded_layers(seq: nn.Sequential, what: str):
    """(pad, module) for each non-pad module of ``seq``: the ReflectionPad2d before it."""
    pad = 0
    for m in seq:
        if isinstance(m, nn.ReflectionPad2d):
            p = m.padding
            if len(set(p)) != 1:
                raise TilingError(f'unsupported asymmetric padding {p} in {what}')
            pad = p[0]
            continue
        yield pad, m
        pad = 0


def leaky_relu(slope: float) -> Callable[[Tensor, bool], Tensor]:
    return lambda t, inplace: F.leaky_relu(t, slope, inplace=inplace)


def write_into(out: Tensor, fn: Callable[[Tensor], Tensor] = lambda t: t) -> Callable:
    """A sink or tap that writes ``fn(tile)`` into the CPU tensor ``out``."""
    def sink(t: Tensor, r, c) -> None:
        out[:, :, r[0]:r[1], c[0]:c[1]] = fn(t).cpu()
    return sink

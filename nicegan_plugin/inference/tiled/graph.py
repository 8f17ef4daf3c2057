"""Lazily evaluated maps of a network, computed one tile (block) at a time.

A :class:`Node` is a (1, C, H, W) map; ``region(rows, cols)`` computes a block of it from
the blocks of its inputs: a convolution reads its block with a halo from the
neighbouring tiles and pads (reflection) only at the true image border, so the block
equals the same rows and columns of the whole map. :class:`Stored` reads a map that an
earlier pass wrote to a store (:mod:`.storage`); :class:`Norm` applies a norm layer whose
statistics an earlier pass gathered (:mod:`.stats`).
"""
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import TilingError
from .stats import Stats

Tensor = torch.Tensor
Range = Tuple[int, int]


class Node:
    """A lazily evaluated map of shape (1, C, H, W): ``region(rows, cols)`` computes the
    (clipped, unpadded) block ``[r0, r1) x [c0, c1)`` from the regions of its inputs.

    ``cache`` keeps the last computed block (cleared after every tile) so that a second
    request for a sub-block (a tap on the core of a halo region) is a crop.
    """

    spatial = False  # a convolution with a halo since the last stored map

    def __init__(self, channels: int, height: int, width: int, cache: bool = False) -> None:
        self.channels, self.height, self.width = channels, height, width
        self.cache = cache
        self._cached: Optional[Tuple[Range, Range, Tensor]] = None

    def region(self, r: Range, c: Range) -> Tensor:
        if self._cached is not None:
            (cr0, cr1), (cc0, cc1), t = self._cached
            if cr0 <= r[0] and r[1] <= cr1 and cc0 <= c[0] and c[1] <= cc1:
                return t[:, :, r[0] - cr0:r[1] - cr0, c[0] - cc0:c[1] - cc0]
        out = self._compute(r, c)
        if self.cache:
            self._cached = (r, c, out)
        return out

    def clear(self) -> None:
        self._cached = None
        for child, _, _ in self.inputs((0, 1), (0, 1)):
            child.clear()

    def inputs(self, r: Range, c: Range) -> List[Tuple['Node', Range, Range]]:
        """The input blocks ``region(r, c)`` reads (for the halo analysis)."""
        return []

    def _compute(self, r: Range, c: Range) -> Tensor:
        raise NotImplementedError


class Input(Node):
    """The image tensor itself (on the device)."""

    def __init__(self, x: Tensor) -> None:
        super().__init__(x.shape[1], x.shape[2], x.shape[3])
        self.x = x

    def _compute(self, r: Range, c: Range) -> Tensor:
        return self.x[:, :, r[0]:r[1], c[0]:c[1]]


class Stored(Node):
    """A map materialised in a store (host memory or a file), read per tile."""

    def __init__(self, store, device: torch.device) -> None:
        h, w, ch = store.shape
        super().__init__(ch, h, w)
        self.store, self.device = store, device

    def _compute(self, r: Range, c: Range) -> Tensor:
        # (h, w, C) -> (1, C, h, w) in channels-last memory: no copy (convolutions and
        # the pointwise ops take either layout)
        block = torch.from_numpy(np.ascontiguousarray(self.store.read(r, c)))
        return block.to(self.device).permute(2, 0, 1).unsqueeze(0)


def conv_weights(conv: nn.Conv2d) -> Tuple[Tensor, Optional[Tensor]]:
    """(weight, bias) of a conv, detached; read only when a tile is computed, so dry
    runs never evaluate a parametrization."""
    return conv.weight.detach(), None if conv.bias is None else conv.bias.detach()


def conv_need(o: Range, k: int, s: int, p: int) -> Range:
    """Input rows (unclipped, unpadded coordinates) that output rows ``o`` read."""
    return s * o[0] - p, s * (o[1] - 1) - p + k


class Conv(Node):
    """``conv(reflect_pad(child, p))`` with the conv's weight fixed once (eval mode)."""

    def __init__(self, child: Node, conv: nn.Conv2d, pad: int) -> None:
        k, s = conv.kernel_size[0], conv.stride[0]
        if conv.kernel_size != (k, k) or conv.stride != (s, s) or conv.padding != (0, 0) \
                or conv.dilation != (1, 1) or conv.groups != 1:
            raise TilingError(f'unsupported convolution {conv} for tiled translation')
        h = (child.height + 2 * pad - k) // s + 1
        w = (child.width + 2 * pad - k) // s + 1
        super().__init__(conv.out_channels, h, w)
        self.child, self.k, self.s, self.p, self.conv = child, k, s, pad, conv
        self.spatial = k > 1 or child.spatial
        self._weights: Optional[Tuple[Tensor, Optional[Tensor]]] = None

    def _need(self, o: Range, n: int) -> Tuple[Range, Tuple[int, int]]:
        lo, hi = conv_need(o, self.k, self.s, self.p)
        return (max(lo, 0), min(hi, n)), (max(0, -lo), max(0, hi - n))

    def inputs(self, r, c):
        return [(self.child, self._need(r, self.child.height)[0],
                 self._need(c, self.child.width)[0])]

    def _compute(self, r: Range, c: Range) -> Tensor:
        rr, (top, bottom) = self._need(r, self.child.height)
        cc, (left, right) = self._need(c, self.child.width)
        t = self.child.region(rr, cc)
        if top or bottom or left or right:  # only at the true image border
            t = F.pad(t, (left, right, top, bottom), mode='reflect')
        if self._weights is None:  # once per pass: a spectral norm's W / sigma (eval mode)
            self._weights = conv_weights(self.conv)
        return F.conv2d(t, *self._weights, self.s)


class Upsample(Node):
    """``pixel_shuffle(conv1x1(child), r)``: computed on the coarser block, then cropped."""

    def __init__(self, child: Node, conv: nn.Conv2d, factor: int) -> None:
        if conv.kernel_size != (1, 1) or conv.stride != (1, 1) or conv.padding != (0, 0):
            raise TilingError(f'unsupported convolution before PixelShuffle: {conv}')
        super().__init__(conv.out_channels // factor ** 2, child.height * factor,
                         child.width * factor)
        self.child, self.f, self.conv = child, factor, conv
        self.spatial = child.spatial

    def _coarse(self, o: Range) -> Range:
        return o[0] // self.f, -(-o[1] // self.f)

    def inputs(self, r, c):
        return [(self.child, self._coarse(r), self._coarse(c))]

    def _compute(self, r: Range, c: Range) -> Tensor:
        rr, cc = self._coarse(r), self._coarse(c)
        t = F.pixel_shuffle(F.conv2d(self.child.region(rr, cc), *conv_weights(self.conv)),
                            self.f)
        dr, dc = r[0] - rr[0] * self.f, c[0] - cc[0] * self.f
        return t[:, :, dr:dr + r[1] - r[0], dc:dc + c[1] - c[0]]


class Pointwise(Node):
    """``fn(child)`` for a per-pixel ``fn``; ``fn(t, inplace)`` may reuse a fresh ``t``."""

    def __init__(self, child: Node, fn: Callable[[Tensor, bool], Tensor],
                 channels: Optional[int] = None, cache: bool = False) -> None:
        super().__init__(channels or child.channels, child.height, child.width, cache)
        self.child, self.fn = child, fn
        self.spatial = child.spatial

    def inputs(self, r, c):
        return [(self.child, r, c)]

    def _compute(self, r: Range, c: Range) -> Tensor:
        fresh = not (self.child.cache or isinstance(self.child, (Input, Stored)))
        return self.fn(self.child.region(r, c), fresh)


class Norm(Node):
    """ILN/AdaILN with statistics gathered by an earlier pass (+ ReLU if ``relu``)."""

    def __init__(self, child: Node, stats: Stats, scale_shift: Callable[[], Tuple],
                 relu: bool, cache: bool = False) -> None:
        super().__init__(child.channels, child.height, child.width, cache)
        self.child, self.relu, self._scale_shift = child, relu, scale_shift
        self.stats = stats
        self.spatial = child.spatial
        self._affine: Optional[Tuple[Tensor, Tensor]] = None

    def inputs(self, r, c):
        return [(self.child, r, c)]

    def _compute(self, r: Range, c: Range) -> Tensor:
        if self._affine is None:
            self._affine = self._scale_shift()
        scale, shift = self._affine
        out = torch.addcmul(shift, self.child.region(r, c), scale)
        return out.relu_() if self.relu else out


class Add(Node):
    """``a + b`` (the residual connection)."""

    def __init__(self, a: Node, b: Node, cache: bool = False) -> None:
        super().__init__(a.channels, a.height, a.width, cache)
        self.a, self.b = a, b
        self.spatial = a.spatial or b.spatial

    def inputs(self, r, c):
        return [(self.a, r, c), (self.b, r, c)]

    def _compute(self, r: Range, c: Range) -> Tensor:
        return self.a.region(r, c) + self.b.region(r, c)


def leaves(node: Node) -> List[Node]:
    """Stored nodes ``node`` reads."""
    found, todo = [], [node]
    while todo:
        n = todo.pop()
        if isinstance(n, Stored):
            found.append(n)
        todo += [child for child, _, _ in n.inputs((0, 1), (0, 1))]
    return found


def to_host(t: Tensor) -> np.ndarray:
    """(1, C, h, w) tensor -> (h, w, C) contiguous float32 host array (no copy for a
    channels-last tile on the CPU): what a store holds."""
    return np.ascontiguousarray(t[0].permute(1, 2, 0).cpu().numpy())

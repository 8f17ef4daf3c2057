"""Exact tiled translation of light NICE-GAN models: any photo size in bounded memory.

Translation A->B is ``generator(encoder.encode(x))``. Convolutions are local, but every
ILN/AdaILN of the generator normalises with statistics of the WHOLE feature map, and the
light generator's AdaILN parameters come from a global average of the stem output, so
tiles translated on their own get seams and colour shifts. Here the network runs stage
by stage over a grid of tiles:

- each norm layer is a barrier: a pass over all tiles accumulates its per-channel
  statistics (per tile ``torch.var_mean`` with the biased estimator, merged across tiles
  in float64 with Chan's parallel formula, which stays exact where a raw sum of squares
  would cancel), and only then is any tile normalised, with the unbiased variances and
  ``eps`` inside the square root exactly as :mod:`nicegan_plugin.models.norms` does;
- a convolution reads its tile with a halo taken from the neighbouring tiles; reflection
  padding is applied only where a tile touches the true image border (reflection is
  local, so this reproduces the padded whole map row for row);
- the full-size maps in front of a 3x3 convolution are stored off the device (a
  temporary file by default, see :class:`_FileStore`); those in front of a 1x1
  convolution + PixelShuffle are recomputed from the smaller map before them instead
  (4x fewer bytes stored and read, for a cheap 1x1 convolution);
- tiles run on ``x.device``; the output is assembled on the CPU. Passes at full
  resolution run on half-size tiles (their bytes per pixel are ~4x the others').

Passes (light, ``num_blocks`` = 6): encoder + stem conv (stored, heatmap), then per
residual block conv1 and conv2 (stored; the block input ``X`` is stored while conv1's
pass reads it), then upsample conv3x3, 1x1 + shuffle (statistics only), conv3x3,
1x1 + shuffle (statistics only) and the final 7x7 conv: 18 passes. The stored maps alive
at once are at most four (h/4 x w/4 x 4ch float32 each, 256 bytes per image pixel at
ch = 64); peak memory is the tile's working set plus the input and output tensors.

Public: :func:`tiled_translate`, :func:`min_tile`, :func:`store_bytes`,
:func:`estimate_whole_bytes`, :func:`estimate_tiled_bytes`, :func:`choose_mode`,
:class:`TilingError`.
"""
import ctypes
import ctypes.util
import functools
import math
import os
import shutil
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import ILN, AdaILN

Tensor = torch.Tensor
Range = Tuple[int, int]

#: where the full-size intermediate maps live (``tiled_translate(storage=...)``)
STORAGE_KINDS = ('disk', 'memory')


class TilingError(ValueError):
    """An image, tile size or model that tiled translation cannot take (one-line message)."""


# --------------------------------------------------------------------------- statistics
class _Stats:
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
        if t.device.type == 'cpu':
            _, mean, invstd = torch.native_batch_norm(t, None, None, None, None, True, 0.0, 0.0)
            # eps 0: invstd = 1/sqrt(var), except for a flat channel (var = 0), where the
            # kernel returns invstd = 0, not inf: its variance is 0, not 0 ** -2 = inf
            invstd = invstd.double()
            var = torch.where(invstd > 0, invstd.pow(-2), torch.zeros_like(invstd))
        else:
            var, mean = torch.var_mean(t, dim=(0, 2, 3), correction=0)
        mean = mean.double().cpu().numpy()
        m2 = var.double().cpu().numpy() * n
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * (n / total)
        self.m2 += m2 + delta * delta * (self.count * n / total)
        self.count = total

    def moments(self) -> Tuple[np.ndarray, np.ndarray, float, float]:
        """Instance (per channel) and layer (over C, H, W) means and UNBIASED variances
        (``torch.var``, as :func:`~nicegan_plugin.models.norms._moments`)."""
        n, c = self.count, self.mean.shape[0]
        if not (np.isfinite(self.mean).all() and np.isfinite(self.m2).all()):
            raise TilingError('non-finite feature statistics in tiled translation: the '
                              'input or the model\'s weights hold inf or NaN')
        mean_ln = float(self.mean.mean())
        m2_ln = float(self.m2.sum() + n * ((self.mean - mean_ln) ** 2).sum())
        return self.mean, self.m2 / (n - 1), mean_ln, m2_ln / (c * n - 1)


def _norm_affine(norm: nn.Module, stats: _Stats, gamma: Tensor, beta: Tensor,
                 device: torch.device) -> Tuple[Tensor, Tensor]:
    """Float32 (1, C, 1, 1) ``scale, shift`` with ``norm(x) = x * scale + shift``.

    The formula of :func:`~nicegan_plugin.models.norms._affine`, evaluated in float64
    from the merged statistics and cast once.
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


# ------------------------------------------------------------------------------ storage
class _MemoryStore:
    """A full-size (h, w, C) float32 map in host memory (``storage='memory'``)."""

    def __init__(self, channels: int, height: int, width: int, directory: str) -> None:
        self.shape = (height, width, channels)
        self.nbytes = height * width * channels * 4
        self._array: Optional[np.ndarray] = np.empty(self.shape, np.float32)

    def read(self, r: Range, c: Range) -> np.ndarray:
        return self._array[r[0]:r[1], c[0]:c[1]]

    def write(self, r0: int, c0: int, block: np.ndarray) -> None:
        self._array[r0:r0 + block.shape[0], c0:c0 + block.shape[1]] = block

    def close(self) -> None:
        self._array = None


class _FileStore:
    """A full-size (h, w, C) float32 map in an unlinked temporary file (``'disk'``).

    Tiles move with ``pread``/``pwrite`` of whole tile rows (channels last, so a tile
    row is one contiguous run of the file), not through a memory map: mapped pages count
    in the process's RSS until unmapped or ``madvise``d away, while pages read or written
    with ``pread``/``pwrite`` stay in the kernel's page cache, which the kernel reclaims
    (or keeps, making the passes run at memory speed, when memory is free). The file is
    unlinked at creation, so it disappears with the process even after a crash.
    """

    def __init__(self, channels: int, height: int, width: int, directory: str) -> None:
        self.shape = (height, width, channels)
        self.nbytes = height * width * channels * 4
        self._row = width * channels * 4
        self._pixel = channels * 4
        self._file = tempfile.TemporaryFile(dir=directory, prefix='nicegan-tile-')
        os.ftruncate(self._file.fileno(), self.nbytes)

    def read(self, r: Range, c: Range) -> np.ndarray:
        out = np.empty((r[1] - r[0], c[1] - c[0], self.shape[2]), np.float32)
        fd = self._file.fileno()
        if c[0] == 0 and c[1] == self.shape[1]:  # full rows: one contiguous run
            _pread_full(fd, out, r[0] * self._row)
        else:
            for i in range(out.shape[0]):
                _pread_full(fd, out[i], (r[0] + i) * self._row + c[0] * self._pixel)
        return out

    def write(self, r0: int, c0: int, block: np.ndarray) -> None:
        fd = self._file.fileno()
        rows = [block] if c0 == 0 and block.shape[1] == self.shape[1] else block
        for i, row in enumerate(rows):
            view = memoryview(np.ascontiguousarray(row)).cast('B')
            offset = (r0 + i) * self._row + c0 * self._pixel
            while len(view):
                written = os.pwrite(fd, view, offset)
                view, offset = view[written:], offset + written

    def close(self) -> None:
        self._file.close()


class _NullStore:
    """The size of a map and nothing else (dry runs: halos and peak storage)."""

    def __init__(self, channels: int, height: int, width: int, directory: str) -> None:
        self.shape = (height, width, channels)
        self.nbytes = height * width * channels * 4

    def write(self, r0: int, c0: int, block: np.ndarray) -> None:
        raise RuntimeError('a dry run computes nothing')

    read = write

    def close(self) -> None:
        pass


def _pread_full(fd: int, out: np.ndarray, offset: int) -> None:
    """Fill the contiguous array ``out`` from the file at ``offset``."""
    view = memoryview(out).cast('B')
    while len(view):
        got = os.preadv(fd, [view], offset)
        if got <= 0:
            raise OSError(f'short read from a tiling temporary file at byte {offset}')
        view, offset = view[got:], offset + got


# -------------------------------------------------------------------------------- nodes
class _Node:
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

    def inputs(self, r: Range, c: Range) -> List[Tuple['_Node', Range, Range]]:
        """The input blocks ``region(r, c)`` reads (for the halo analysis)."""
        return []

    def _compute(self, r: Range, c: Range) -> Tensor:
        raise NotImplementedError


class _Input(_Node):
    """The image tensor itself (on the device)."""

    def __init__(self, x: Tensor) -> None:
        super().__init__(x.shape[1], x.shape[2], x.shape[3])
        self.x = x

    def _compute(self, r: Range, c: Range) -> Tensor:
        return self.x[:, :, r[0]:r[1], c[0]:c[1]]


class _Stored(_Node):
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


def _conv_weights(conv: nn.Conv2d) -> Tuple[Tensor, Optional[Tensor]]:
    """(weight, bias) of a conv, detached; read only when a tile is computed, so dry
    runs never evaluate a parametrization."""
    return conv.weight.detach(), None if conv.bias is None else conv.bias.detach()


def _conv_need(o: Range, k: int, s: int, p: int) -> Range:
    """Input rows (unclipped, unpadded coordinates) that output rows ``o`` read."""
    return s * o[0] - p, s * (o[1] - 1) - p + k


class _Conv(_Node):
    """``conv(reflect_pad(child, p))`` with the conv's weight fixed once (eval mode)."""

    def __init__(self, child: _Node, conv: nn.Conv2d, pad: int) -> None:
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
        lo, hi = _conv_need(o, self.k, self.s, self.p)
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
            self._weights = _conv_weights(self.conv)
        return F.conv2d(t, *self._weights, self.s)


class _Upsample(_Node):
    """``pixel_shuffle(conv1x1(child), r)``: computed on the coarser block, then cropped."""

    def __init__(self, child: _Node, conv: nn.Conv2d, factor: int) -> None:
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
        t = F.pixel_shuffle(F.conv2d(self.child.region(rr, cc), *_conv_weights(self.conv)),
                            self.f)
        dr, dc = r[0] - rr[0] * self.f, c[0] - cc[0] * self.f
        return t[:, :, dr:dr + r[1] - r[0], dc:dc + c[1] - c[0]]


class _Pointwise(_Node):
    """``fn(child)`` for a per-pixel ``fn``; ``fn(t, inplace)`` may reuse a fresh ``t``."""

    def __init__(self, child: _Node, fn: Callable[[Tensor, bool], Tensor],
                 channels: Optional[int] = None, cache: bool = False) -> None:
        super().__init__(channels or child.channels, child.height, child.width, cache)
        self.child, self.fn = child, fn
        self.spatial = child.spatial

    def inputs(self, r, c):
        return [(self.child, r, c)]

    def _compute(self, r: Range, c: Range) -> Tensor:
        fresh = not (self.child.cache or isinstance(self.child, (_Input, _Stored)))
        return self.fn(self.child.region(r, c), fresh)


class _Norm(_Node):
    """ILN/AdaILN with statistics gathered by an earlier pass (+ ReLU if ``relu``)."""

    def __init__(self, child: _Node, stats: _Stats, scale_shift: Callable[[], Tuple],
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


class _Add(_Node):
    """``a + b`` (the residual connection)."""

    def __init__(self, a: _Node, b: _Node, cache: bool = False) -> None:
        super().__init__(a.channels, a.height, a.width, cache)
        self.a, self.b = a, b
        self.spatial = a.spatial or b.spatial

    def inputs(self, r, c):
        return [(self.a, r, c), (self.b, r, c)]

    def _compute(self, r: Range, c: Range) -> Tensor:
        return self.a.region(r, c) + self.b.region(r, c)


# ------------------------------------------------------------------------------ layout
def _check_models(encoder: nn.Module, generator: nn.Module) -> None:
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


def _pairs(seq: nn.Sequential, what: str):
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


class _Plan:
    """Runs passes over the tile grid and owns the temporary stores.

    With ``storage='dry'`` a pass computes nothing: it records the halo (image pixels)
    that a middle tile reads beyond its own block, and the stores only count bytes;
    :func:`min_tile` and :func:`store_bytes` come from such runs of the same graph.
    """

    def __init__(self, height: int, width: int, tile: int, device: torch.device,
                 storage: str, workdir: str = '',
                 progress: Optional[Callable[[int, int], None]] = None,
                 total_passes: int = 0) -> None:
        self.height, self.h4, self.w4 = height, height // 4, width // 4
        self.t = max(tile // 4, 1)  # tile side at quarter resolution
        self.rows = _split(self.h4, self.t)
        self.cols = _split(self.w4, self.t)
        self.device, self.workdir = device, workdir
        self.dry = storage == 'dry'
        self.store_cls = dict(disk=_FileStore, memory=_MemoryStore, dry=_NullStore)[storage]
        self.stores: List = []
        self.live_bytes = self.peak_bytes = self.halo = 0
        self.passes, self.total_passes, self.progress = 0, total_passes, progress

    def new_store(self, node: _Node):
        store = self.store_cls(node.channels, node.height, node.width, self.workdir)
        self.stores.append(store)
        self.live_bytes += store.nbytes
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        return store

    def release(self, *nodes: _Node) -> None:
        """Close the stores of stored nodes no later pass reads."""
        for node in nodes:
            if isinstance(node, _Stored) and node.store in self.stores:
                node.store.close()
                self.stores.remove(node.store)
                self.live_bytes -= node.store.nbytes

    def close(self) -> None:
        for store in self.stores:
            store.close()
        self.stores = []

    def run(self, node: _Node, store: bool = False, stats: bool = False,
            taps: Tuple = (), sink: Optional[Callable] = None
            ) -> Tuple[Optional[_Stats], _Node]:
        """One pass: evaluate ``node`` on every tile; store it, gather its statistics,
        feed ``sink(t, rows, cols)``; ``taps`` are (node, fn(t, rows, cols)) evaluated on
        the tile's own block (a crop of the cached halo block).

        Passes at full resolution (64 channels there, 256 in the half-resolution 1x1
        conv before the shuffle: ~4x the bytes per pixel of the others) run on
        half-size tiles, which evens out the passes' working sets.
        """
        target = self.new_store(node) if store else None
        acc = _Stats(node.channels) if stats else None
        scale = node.height // self.h4
        rows, cols = self.rows, self.cols
        if scale == 4 and self.t > 1 and not taps:
            rows, cols = _split(self.h4, self.t // 2), _split(self.w4, self.t // 2)
        if self.dry:
            self._measure_halo(node, rows[len(rows) // 2], cols[len(cols) // 2])
            rows = []
        for r in rows:
            for c in cols:
                rr, cc = (scale * r[0], scale * r[1]), (scale * c[0], scale * c[1])
                t = node.region(rr, cc)
                if acc is not None:
                    acc.add(t)
                if target is not None:
                    target.write(rr[0], cc[0], _to_host(t))
                if sink is not None:
                    sink(t, rr, cc)
                for tap, fn in taps:
                    f = tap.height // self.h4
                    trr, tcc = (f * r[0], f * r[1]), (f * c[0], f * c[1])
                    fn(tap.region(trr, tcc), trr, tcc)
                del t
                node.clear()
                for tap, _ in taps:
                    tap.clear()
        if not self.dry:
            _release_free_heap()
        self.passes += 1
        if self.progress is not None:
            self.progress(self.passes, self.total_passes)
        return acc, (_Stored(target, self.device) if target is not None else node)

    def _measure_halo(self, node: _Node, r: Range, c: Range) -> None:
        """Widest margin (image pixels) by which the stored maps or the image that
        ``node`` reads for the tile ``r x c`` (quarter resolution) exceed the tile."""
        f = node.height // self.h4
        todo = [(node, (f * r[0], f * r[1]), (f * c[0], f * c[1]))]
        while todo:
            n, rr, cc = todo.pop()
            kids = n.inputs(rr, cc)
            if kids:
                todo += kids
                continue
            px = self.height // n.height  # image pixels per pixel of this map
            self.halo = max(self.halo, 4 * r[0] - px * rr[0], px * rr[1] - 4 * r[1],
                            4 * c[0] - px * cc[0], px * cc[1] - 4 * c[1])


def _release_free_heap() -> None:
    """Hand the heap memory freed by a pass back to the OS (glibc ``malloc_trim``; no-op
    elsewhere). glibc keeps freed tile buffers (its mmap threshold grows with them); without
    this, ``tools/measure_tiling.py --tile 512`` measured 460 / 729 MB added at 4 / 24 MP
    instead of 248 / 470 MB (2-core CPU, 2026-12-06), at the same CPU time."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Optional[Callable[[int], int]]:
    try:
        return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6').malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def _split(n: int, t: int) -> List[Range]:
    """[0, n) in ceil(n / t) nearly equal chunks of at most t."""
    k = -(-n // t)
    bounds = [i * n // k for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _to_host(t: Tensor) -> np.ndarray:
    """(1, C, h, w) tensor -> (h, w, C) contiguous float32 host array (no copy for a
    channels-last tile on the CPU)."""
    return np.ascontiguousarray(t[0].permute(1, 2, 0).cpu().numpy())


def _lrelu(slope: float) -> Callable[[Tensor, bool], Tensor]:
    return lambda t, inplace: F.leaky_relu(t, slope, inplace=inplace)


def _encoder_node(encoder: nn.Module, x_node: _Node) -> _Node:
    """The encoder's convolutions as nodes; returns the node before the CAM attention."""
    node = x_node
    for pad, m in _pairs(encoder.encoder, 'the encoder'):
        if isinstance(m, nn.Conv2d):
            node = _Conv(node, m, pad)
        elif isinstance(m, nn.LeakyReLU):
            node = _Pointwise(node, _lrelu(m.negative_slope))
        else:
            raise TilingError(f'unsupported layer {type(m).__name__} in the encoder')
    return node


def _attention(encoder: nn.Module) -> Callable[[Tensor, bool], Tensor]:
    """The encoder's CAM attention (``NICEGANDiscriminator.attend``), per pixel."""
    return lambda t, inplace: encoder.attend(t)


def _passes(generator: nn.Module) -> int:
    """Number of passes a translation runs (for progress reports)."""
    ups = sum(isinstance(m, ILN) for m in generator.upsample)
    return 1 + 2 * len(generator.res_blocks) + ups + 1


def _translate(encoder: nn.Module, generator: nn.Module, x: Tensor, plan: _Plan,
               heat: Optional[Tensor], y: Tensor) -> None:
    """Build the pass graph and run it (see the module docstring)."""
    dev = x.device
    # --- encoder + CAM attention + stem conv: one pass (stored s0, heatmap tap)
    z = _Pointwise(_encoder_node(encoder, _Input(x)), _attention(encoder),
                   channels=encoder.cam_conv.out_channels, cache=True)
    (stem_pad, stem_conv), (_, stem_norm), (_, stem_relu) = _pairs(generator.stem, 'stem')
    if not (isinstance(stem_norm, ILN) and isinstance(stem_relu, nn.ReLU)):
        raise TilingError('unsupported generator stem for tiled translation')

    def heat_tap(t, r, c):
        heat[:, :, r[0]:r[1], c[0]:c[1]] = t.sum(dim=1, keepdim=True).cpu()

    taps = ((z, heat_tap),) if heat is not None else ()
    s0_stats, s0 = plan.run(_Conv(z, stem_conv, stem_pad), store=True, stats=True, taps=taps)
    x_cur: _Node = _Norm(s0, s0_stats, lambda: _norm_affine(
        stem_norm, s0_stats, stem_norm.gamma, stem_norm.beta, dev), relu=True, cache=True)

    # --- style: mean of the stem output (tapped in the next pass) -> MLP -> gamma, beta
    pooled = np.zeros(x_cur.channels, np.float64)
    style: Dict[str, Tensor] = {}

    def pool_tap(t, r, c):
        pooled[:] += t.sum(dim=(0, 2, 3)).double().cpu().numpy()

    def gamma_beta() -> Tuple[Tensor, Tensor]:
        if not style:
            mean = torch.from_numpy(pooled / (plan.h4 * plan.w4)).to(dev, torch.float32)
            s = generator.mlp(mean.view(1, -1))
            style['gamma'] = generator.fc_gamma(s).view(1, -1, 1, 1)
            style['beta'] = generator.fc_beta(s).view(1, -1, 1, 1)
        return style['gamma'], style['beta']

    def ada(norm: AdaILN, stats: _Stats) -> Callable[[], Tuple[Tensor, Tensor]]:
        return lambda: _norm_affine(norm, stats, *gamma_beta(), dev)

    # --- residual blocks: conv1 pass (stores the block input X), conv2 pass
    taps = ((x_cur, pool_tap),)
    previous: Tuple[_Node, ...] = ()  # stored maps the current x_cur reads
    for block in generator.res_blocks:
        if not all(isinstance(m, AdaILN) for m in (block.norm1, block.norm2)):
            raise TilingError('unsupported residual block for tiled translation')
        x_store = None
        if not taps:  # the block input is a lazy sum: store it while conv1 reads it
            x_store = plan.new_store(x_cur)
            taps = ((x_cur, lambda t, r, c, s=x_store: s.write(r[0], c[0], _to_host(t))),)
        a_stats, a = plan.run(_Conv(x_cur, block.conv1, block.pad1.padding[0]),
                              store=True, stats=True, taps=taps)
        if x_store is not None:
            plan.release(*previous)
            x_cur = _Stored(x_store, dev)
            previous = (x_cur,)
        else:
            previous = (s0,)
        taps = ()
        b_stats, b = plan.run(_Conv(_Norm(a, a_stats, ada(block.norm1, a_stats), relu=True),
                                    block.conv2, block.pad2.padding[0]),
                              store=True, stats=True)
        plan.release(a)
        x_cur = _Add(_Norm(b, b_stats, ada(block.norm2, b_stats), relu=False), x_cur,
                     cache=True)
        previous = previous + (b,)
    # (the upsampling's first pass reads the residual stream for the last time and
    # releases its maps with the other leaves it read)

    # --- upsampling: barriers after 3x3 convs store, after 1x1 + shuffle recompute
    layers = list(_pairs(generator.upsample, 'upsample'))
    node, i = x_cur, 0
    while i < len(layers):
        pad, m = layers[i]
        nxt = layers[i + 1][1] if i + 1 < len(layers) else None
        if isinstance(m, nn.Conv2d) and isinstance(nxt, nn.PixelShuffle):
            node, i = _Upsample(node, m, nxt.upscale_factor), i + 2
        elif isinstance(m, nn.Conv2d):
            node, i = _Conv(node, m, pad), i + 1
        elif isinstance(m, ILN):
            relu = isinstance(nxt, nn.ReLU)
            stats, stored = plan.run(node, store=node.spatial, stats=True, taps=taps)
            taps = ()
            if stored is not node:  # the maps this pass read are not read again
                plan.release(*_leaves(node))
            node = _Norm(stored, stats, lambda m=m, s=stats: _norm_affine(
                m, s, m.gamma, m.beta, dev), relu=relu)
            i += 2 if relu else 1
        elif isinstance(m, (nn.ReLU, nn.Tanh)):
            fn = torch.relu_ if isinstance(m, nn.ReLU) else torch.tanh_
            slow = torch.relu if isinstance(m, nn.ReLU) else torch.tanh
            node = _Pointwise(node, lambda t, inplace, fn=fn, slow=slow:
                              fn(t) if inplace else slow(t))
            i += 1
        else:
            raise TilingError(f'unsupported layer {type(m).__name__} in generator.upsample')

    def out_sink(t, r, c):
        y[:, :, r[0]:r[1], c[0]:c[1]] = t.cpu()

    plan.run(node, sink=out_sink, taps=taps)


def _leaves(node: _Node) -> List[_Node]:
    """Stored nodes ``node`` reads."""
    found, todo = [], [node]
    while todo:
        n = todo.pop()
        if isinstance(n, _Stored):
            found.append(n)
        todo += [child for child, _, _ in n.inputs((0, 1), (0, 1))]
    return found


# ------------------------------------------------------------------------ public API
def _dry_run(encoder: nn.Module, generator: nn.Module, height: int, width: int,
             tile: int) -> _Plan:
    """The passes of a translation without computing them (see :class:`_Plan`)."""
    _check_models(encoder, generator)
    plan = _Plan(height, width, tile, torch.device('meta'), 'dry')
    x = torch.empty(1, 3, height, width, device='meta')
    with torch.no_grad():
        _translate(encoder, generator, x, plan, None, torch.empty(0, device='meta'))
    return plan


def store_bytes(encoder: nn.Module, generator: nn.Module, height: int, width: int) -> int:
    """Peak bytes of the maps a tiled translation stores (disk or host memory).

    They are h/4 x w/4 x 4ch float32 (stem output, conv1 and conv2 outputs, block
    inputs; 64 bytes per image pixel at ch = 64): conv1's pass of block i >= 1 reads X(i-1)
    and b(i-1) while it writes X(i) and a(i), four at once. Counted by a dry run of the
    passes; ``tiled_translate(..., info=...)`` reports the real peak.
    """
    return _dry_run(encoder, generator, height, width, 1 << 30).peak_bytes


def min_tile(encoder: nn.Module, generator: nn.Module) -> int:
    """Smallest ``tile`` (image pixels, a multiple of 4) for these networks.

    The widest halo any pass reads around its tile (7 image pixels for NICE-GAN: the
    encoder's two 4x4 stride-2 convs and the stem's 3x3 conv, in the first pass) must
    lie within the neighbouring tiles, and a quarter-resolution tile must hold the 2
    pixels a reflection pad of 1 needs. Measured on a dry run of the passes.
    """
    halo = _dry_run(encoder, generator, 256, 256, 4).halo
    return max(8, -(-halo // 4) * 4)


def _check_input(encoder: nn.Module, generator: nn.Module, x: Tensor, tile: int) -> None:
    _check_models(encoder, generator)
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
    need = min_tile(encoder, generator)
    if tile < need:
        raise TilingError(f'tile {tile} is smaller than the {need} px the network\'s halos '
                          f'need: use --tile {need} or more (128-1024 are good sizes)')


def _host_available() -> int:
    """MemAvailable of /proc/meminfo in bytes (a large number where unknown)."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def _check_space(encoder: nn.Module, generator: nn.Module, h: int, w: int, storage: str,
                 workdir: str, host_extra: int) -> None:
    """TilingError when the stored maps cannot fit (disk or host memory)."""
    need = store_bytes(encoder, generator, h, w)
    gb = 1024 ** 3
    if storage == 'disk':
        free = shutil.disk_usage(workdir).free
        if need > free:
            raise TilingError(f'tiling {h}x{w} needs {need / gb:.1f} GiB of temporary files '
                              f'in {workdir} but only {free / gb:.1f} GiB are free: free space '
                              'or point workdir (TMPDIR) at a larger disk')
        need = 0
    avail = _host_available()
    if need + host_extra > avail:
        raise TilingError(f'tiling {h}x{w} needs about {(need + host_extra) / gb:.1f} GiB of '
                          f'host memory, {avail / gb:.1f} GiB available: use storage=\'disk\','
                          ' a smaller image or a machine with more memory')


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
            that is not a multiple of 4, too little disk / host memory for the maps.
    """
    if storage not in STORAGE_KINDS:
        raise TilingError(f'storage must be one of {STORAGE_KINDS}, got {storage!r}')
    _check_input(encoder, generator, x, tile)
    h, w = x.shape[2:]
    workdir = workdir or tempfile.gettempdir()
    _check_space(encoder, generator, h, w, storage, workdir, host_extra=h * w * 13)
    y = torch.empty(1, 3, h, w)
    heat = torch.empty(1, 1, h // 4, w // 4) if heatmap else None
    plan = _Plan(h, w, tile, x.device, storage, workdir, progress, _passes(generator))
    if log is not None:
        where = f'files in {workdir}' if storage == 'disk' else 'host memory'
        log(f'tiled translation of {h}x{w}: {len(plan.rows)}x{len(plan.cols)} tiles of at '
            f'most {4 * max(tile // 4, 1)} px, {plan.total_passes} passes, up to '
            f'{_fmt(store_bytes(encoder, generator, h, w))} of maps in {where}')
    try:
        with torch.no_grad():
            _translate(encoder, generator, x, plan, heat, y)
    finally:
        plan.close()
    if info is not None:
        info.update(passes=plan.passes, tiles=len(plan.rows) * len(plan.cols),
                    store_peak_bytes=plan.peak_bytes)
    return y, heat


# ----------------------------------------------------------------- memory estimates
# Calibration of the two estimates: peak RSS added by one translation (VmHWM minus VmRSS
# with the model and the input loaded, each run in its own process) of the paper's
# networks (ch = 64) on the CPU, tools/measure_tiling.py, 2-core AMD EPYC, torch 2.13,
# 2026-12-06. Whole image, 0.25-24 MP: 613-677 bytes per pixel (fit: 673 B/px + 9 MiB),
# so 11 B/px/ch (704 B/px) + 64 MiB is above every run. Tiled, working set beyond the
# output tensor: 52 MB (tile 256), 200-247 MB (tile 512, 1-24 MP), 254 MB (tile 1024 on
# 4 MP: balanced tiles of 868x772); 10 B/px/ch x (tile + 16)^2 + 128 MiB is above every run.
# On CUDA (max_memory_allocated) the same formulas are used; not calibrated there.
#: bytes per image pixel per base channel of the whole-image pass
WHOLE_BYTES_PER_PIXEL_CHANNEL = 11.0
#: bytes per pixel (of one tile with its halo) per base channel of a tiled pass
TILE_BYTES_PER_PIXEL_CHANNEL = 10.0
#: allocator slack and small buffers of a whole-image / a tiled translation (bytes)
WHOLE_FIXED_BYTES = 64 * 1024 ** 2
TILE_FIXED_BYTES = 128 * 1024 ** 2
#: host bytes per image pixel of a tiled translation's output and heatmap (float32)
OUTPUT_BYTES_PER_PIXEL = 13


def _fmt(n: float) -> str:
    return f'{n / 1024 ** 3:.1f} GiB' if n >= 1024 ** 3 else f'{n / 1024 ** 2:.0f} MiB'


def _base_channels(generator: nn.Module) -> int:
    """``ch`` of the generator (input channels of its last 7x7 conv)."""
    return generator.stem[1].out_channels // 4


def estimate_whole_bytes(encoder: nn.Module, generator: nn.Module, height: int,
                         width: int) -> int:
    """Peak memory a whole-image translation adds (bytes), beyond the loaded model and
    the input tensor: ``WHOLE_BYTES_PER_PIXEL_CHANNEL * ch * H * W + WHOLE_FIXED_BYTES``
    (calibration: the comment above the constants)."""
    _check_models(encoder, generator)
    ch = _base_channels(generator)
    return int(WHOLE_BYTES_PER_PIXEL_CHANNEL * ch * height * width + WHOLE_FIXED_BYTES)


def _tiled_terms(encoder: nn.Module, generator: nn.Module, height: int, width: int,
                 storage: str, device: str) -> Tuple[float, float]:
    """(a, b) of ``estimate_tiled_bytes = a * tile_area(tile) + b``."""
    _check_models(encoder, generator)
    fixed = float(TILE_FIXED_BYTES)
    if str(device).startswith('cpu'):
        fixed += OUTPUT_BYTES_PER_PIXEL * height * width
        if storage == 'memory':
            fixed += store_bytes(encoder, generator, height, width)
    return TILE_BYTES_PER_PIXEL_CHANNEL * _base_channels(generator), fixed


def estimate_tiled_bytes(encoder: nn.Module, generator: nn.Module, height: int,
                         width: int, tile: int, storage: str = 'disk',
                         device: str = 'cpu') -> int:
    """Peak memory a tiled translation adds (bytes), beyond the model and the input.

    ``TILE_BYTES_PER_PIXEL_CHANNEL * ch * (th + 16) * (tw + 16)`` for the grid's tiles of
    ``th x tw`` (at most ``tile``, balanced over the image) ``+ TILE_FIXED_BYTES``, plus on
    the host the output and heatmap (``OUTPUT_BYTES_PER_PIXEL``; on a CUDA device they are
    not in device memory) and with ``storage='memory'`` the stored maps
    (:func:`store_bytes`). Calibration: the comment above the constants.
    """
    a, b = _tiled_terms(encoder, generator, height, width, storage, device)
    return int(a * _tile_area(tile, height, width) + b)


def _tile_area(tile: int, height: int, width: int) -> int:
    """(th + 16) * (tw + 16) for the largest tile of the balanced grid (see :func:`_split`)."""
    t = max(tile // 4, 1)
    th, tw = (4 * -(-n // -(-n // t)) for n in (height // 4, width // 4))
    return (th + 16) * (tw + 16)


def choose_mode(encoder: nn.Module, generator: nn.Module, height: int, width: int,
                budget: int, tile: Optional[int] = None, storage: str = 'disk',
                device: str = 'cpu') -> Tuple[str, Optional[int], str]:
    """How to translate one image within ``budget`` bytes (``--max-memory``; on CUDA the
    caller passes the free device memory and ``device='cuda'``).

    Whole-image translation is faster, so it is chosen whenever its estimate fits;
    otherwise tiled with ``tile``, or when ``tile`` is None the largest tile (a multiple
    of 32 up to the image side, at least :func:`min_tile`) whose estimate fits.

    Returns:
        ``('whole', None, reason)`` or ``('tiled', tile, reason)``; ``reason`` is one
        line for the log.

    Raises:
        TilingError: a full model, or not even the tiled estimate fits the budget.
    """
    whole = estimate_whole_bytes(encoder, generator, height, width)
    if whole <= budget:
        return 'whole', None, f'whole image ~{_fmt(whole)} fits the budget of {_fmt(budget)}'
    smallest = min_tile(encoder, generator)
    if tile is None:
        a, b = _tiled_terms(encoder, generator, height, width, storage, device)
        side = -(-max(height, width) // 4) * 4
        candidates = [side] + list(range(side // 32 * 32, smallest - 1, -32)) + [smallest]
        tile = next((t for t in candidates if a * _tile_area(t, height, width) + b <= budget),
                    smallest)
    tiled = estimate_tiled_bytes(encoder, generator, height, width, tile, storage, device)
    if tiled > budget:
        raise TilingError(f'{height}x{width} needs ~{_fmt(tiled)} even tiled with tile {tile}'
                          f', over the budget of {_fmt(budget)}: use a smaller --tile (at '
                          f'least {smallest}) or raise --max-memory')
    return 'tiled', tile, (f'whole image ~{_fmt(whole)} > budget {_fmt(budget)}; tiles of '
                           f'{tile} px ~{_fmt(tiled)}')

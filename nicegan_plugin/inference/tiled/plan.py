"""The tile grid of a tiled translation and the passes over it.

A *pass* evaluates one lazy map (:mod:`.graph`) on every tile of the grid and stores it,
gathers its normalisation statistics or hands its tiles to a sink. The grid is at
quarter resolution (the encoder's output); edge tiles are balanced, not remainders.
A dry run (``storage='dry'``) computes nothing: it records the halo a middle tile reads
and the bytes the stores would hold, for :func:`~.translate.min_tile` and
:func:`~.translate.store_bytes`.
"""
import ctypes
import ctypes.util
import functools
from typing import Callable, List, Optional, Tuple

import torch

from .graph import Node, Stored, to_host
from .stats import Stats
from .storage import STORES

Range = Tuple[int, int]


class Plan:
    """Runs passes over the tile grid and owns the temporary stores.

    With ``storage='dry'`` a pass computes nothing: it records the halo (image pixels)
    that a middle tile reads beyond its own block, and the stores only count bytes;
    :func:`~.translate.min_tile` and :func:`~.translate.store_bytes` come from such runs
    of the same graph.
    """

    def __init__(self, height: int, width: int, tile: int, device: torch.device,
                 storage: str, workdir: str = '',
                 progress: Optional[Callable[[int, int], None]] = None,
                 total_passes: int = 0) -> None:
        self.height, self.h4, self.w4 = height, height // 4, width // 4
        self.t = max(tile // 4, 1)  # tile side at quarter resolution
        self.rows = split(self.h4, self.t)
        self.cols = split(self.w4, self.t)
        self.device, self.workdir = device, workdir
        self.dry = storage == 'dry'
        self.store_cls = STORES[storage]
        self.stores: List = []
        self.live_bytes = self.peak_bytes = self.halo = 0
        self.passes, self.total_passes, self.progress = 0, total_passes, progress

    def new_store(self, node: Node):
        """A store for the full-size ``node`` map (counted until released)."""
        store = self.store_cls(node.channels, node.height, node.width, self.workdir)
        self.stores.append(store)
        self.live_bytes += store.nbytes
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        return store

    def release(self, *nodes: Node) -> None:
        """Close the stores of stored nodes no later pass reads."""
        for node in nodes:
            if isinstance(node, Stored) and node.store in self.stores:
                node.store.close()
                self.stores.remove(node.store)
                self.live_bytes -= node.store.nbytes

    def close(self) -> None:
        """Close every store still open (their files vanish)."""
        for store in self.stores:
            store.close()
        self.stores = []

    def run(self, node: Node, store: bool = False, stats: bool = False,
            taps: Tuple = (), sink: Optional[Callable] = None
            ) -> Tuple[Optional[Stats], Node]:
        """One pass: evaluate ``node`` on every tile; store it, gather its statistics,
        feed ``sink(t, rows, cols)``; ``taps`` are (node, fn(t, rows, cols)) evaluated on
        the tile's own block (a crop of the cached halo block).

        Passes at full resolution (64 channels there, 256 in the half-resolution 1x1
        conv before the shuffle: ~4x the bytes per pixel of the others) run on
        half-size tiles, which evens out the passes' working sets.
        """
        target = self.new_store(node) if store else None
        acc = Stats(node.channels) if stats else None
        scale = node.height // self.h4
        rows, cols = self.rows, self.cols
        if scale == 4 and self.t > 1 and not taps:
            rows, cols = split(self.h4, self.t // 2), split(self.w4, self.t // 2)
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
                    target.write(rr[0], cc[0], to_host(t))
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
            release_free_heap()
        self.passes += 1
        if self.progress is not None:
            self.progress(self.passes, self.total_passes)
        return acc, (Stored(target, self.device) if target is not None else node)

    def _measure_halo(self, node: Node, r: Range, c: Range) -> None:
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


def release_free_heap() -> None:
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


def split(n: int, t: int) -> List[Range]:
    """[0, n) in ceil(n / t) nearly equal chunks of at most t."""
    k = -(-n // t)
    bounds = [i * n // k for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))

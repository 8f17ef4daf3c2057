"""Where the full-size intermediate maps of a tiled translation live.

A map is (h, w, C) float32, channels last, so that one tile row is one contiguous run.
``'disk'`` (:class:`FileStore`, default): an unlinked temporary file; ``'memory'``
(:class:`MemoryStore`): host RAM; ``'dry'`` (:class:`NullStore`): sizes only.
:func:`check_space` says, before a translation starts, whether its maps fit.
"""
import os
import shutil
import tempfile
from typing import Optional, Tuple

import numpy as np

from .errors import ImageTooLargeError, format_bytes

Range = Tuple[int, int]

#: where the full-size intermediate maps live (``tiled_translate(storage=...)``)
STORAGE_KINDS = ('disk', 'memory')


class MemoryStore:
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


class FileStore:
    """A full-size (h, w, C) float32 map in an unlinked temporary file (``'disk'``).

    Tiles move with ``pread``/``pwrite`` of whole tile rows, not through a memory map:
    mapped pages count in the process's RSS until unmapped or ``madvise``d away, while
    pages read or written with ``pread``/``pwrite`` stay in the kernel's page cache,
    which the kernel reclaims (or keeps, making the passes run at memory speed, when
    memory is free). The file is unlinked at creation, so it disappears with the
    process even after a crash.
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
            pread_full(fd, out, r[0] * self._row)
        else:
            for i in range(out.shape[0]):
                pread_full(fd, out[i], (r[0] + i) * self._row + c[0] * self._pixel)
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


class NullStore:
    """The size of a map and nothing else (dry runs: halos and peak storage)."""

    def __init__(self, channels: int, height: int, width: int, directory: str) -> None:
        self.shape = (height, width, channels)
        self.nbytes = height * width * channels * 4

    def write(self, r0: int, c0: int, block: np.ndarray) -> None:
        raise RuntimeError('a dry run computes nothing')

    read = write

    def close(self) -> None:
        pass


#: store class of each storage kind
STORES = {'disk': FileStore, 'memory': MemoryStore, 'dry': NullStore}


def pread_full(fd: int, out: np.ndarray, offset: int) -> None:
    """Fill the contiguous array ``out`` from the file at ``offset``."""
    view = memoryview(out).cast('B')
    while len(view):
        got = os.preadv(fd, [view], offset)
        if got <= 0:
            raise OSError(f'short read from a tiling temporary file at byte {offset}')
        view, offset = view[got:], offset + got


def host_available() -> int:
    """MemAvailable of /proc/meminfo in bytes (a large number where unknown)."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def check_space(what: str, store_bytes: int, storage: str, workdir: str,
                host_bytes: int) -> None:
    """:class:`ImageTooLargeError` when ``store_bytes`` of maps (in files under
    ``workdir`` or in host memory) plus ``host_bytes`` of host memory do not fit."""
    if storage == 'disk':
        free = shutil.disk_usage(workdir).free
        if store_bytes > free:
            raise ImageTooLargeError(
                f'tiling {what} needs {format_bytes(store_bytes)} of temporary files in '
                f'{workdir} but only {format_bytes(free)} are free: free space or point '
                'TMPDIR at a larger disk')
        store_bytes = 0
    avail = host_available()
    if store_bytes + host_bytes > avail:
        raise ImageTooLargeError(
            f'tiling {what} needs about {format_bytes(store_bytes + host_bytes)} of host '
            f'memory, {format_bytes(avail)} available: keep the maps on disk '
            "(storage='disk'), or use a smaller image or a machine with more memory")

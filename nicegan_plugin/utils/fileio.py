"""Atomic file writes: a crash mid-write never leaves a truncated file behind.

The bytes go to a hidden temporary file in the target's folder (same file system),
are flushed and fsync-ed, then ``os.replace``-d over the target, so a reader sees the
old file or the new one, never a part. The file gets the mode an ordinary ``open``
would give it (0666 minus the process umask), not ``mkstemp``'s 0600.
"""
import contextlib
import io
import os
import os.path as osp
import re
import tempfile
from typing import Any, Iterator, Union

#: prefix of the temporary files (``.<name>.tmp-XXXX``); see :func:`remove_stale_temp_files`
TEMP_PREFIX = '.'
TEMP_TAG = '.tmp-'


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Union[str, os.PathLike], data: Union[bytes, str]) -> None:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically (see module doc)."""
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + osp.basename(path) + TEMP_TAG, dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: Union[str, os.PathLike]) -> Iterator[str]:
    """``with atomic_path(out) as tmp: writer(tmp)``: for writers that need a file name
    (encoders, exporters, ``savefig``). ``tmp`` is a fresh temporary name in ``out``'s folder
    with ``out``'s extension (writers pick formats by it); when the block ends without an
    exception the file is fsync-ed and renamed over ``out``, else it is removed."""
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base = osp.basename(path)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + base + TEMP_TAG,
                               suffix=osp.splitext(base)[1], dir=folder)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def atomic_torch_save(obj: Any, path: Union[str, os.PathLike]) -> None:
    """``torch.save(obj, path)`` through :func:`atomic_write`."""
    import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, buffer.getvalue())


#: temporary checkpoint files of the first release (``.iter_N.pth.<8 random characters>``)
_LEGACY_CHECKPOINT_TEMP = re.compile(r'^\.[^/]+\.pth\.[A-Za-z0-9_]{8}$')


def is_temp_file(name: str) -> bool:
    """Whether ``name`` (a base name) is a temporary file left by :func:`atomic_write`
    (or by the first release's atomic checkpoint writes)."""
    return (name.startswith(TEMP_PREFIX) and TEMP_TAG in name) or \
        bool(_LEGACY_CHECKPOINT_TEMP.match(name))


def remove_stale_temp_files(folder: str) -> list:
    """Delete temporary files of interrupted :func:`atomic_write` calls in ``folder``
    (not recursive); returns their paths.

    Only under the run lock of ``folder`` (``nicegan_plugin.engine.guards.run_lock``, as
    ``NICEGANCheckpointHook`` calls it): a temp file may be the in-flight save of a running
    job, and deleting it kills that job's save."""
    removed = []
    if osp.isdir(folder):
        for name in os.listdir(folder):
            path = osp.join(folder, name)
            if is_temp_file(name) and osp.isfile(path):
                os.remove(path)
                removed.append(path)
    return removed

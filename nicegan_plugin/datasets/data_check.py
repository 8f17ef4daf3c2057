"""Start-up check of image folders: every file is decoded once, before the first iteration.

A truncated or non-image file in ``trainA`` otherwise crashes the run whenever the random
sampler first draws it (hours in, with a traceback that does not name it), and again after
every resume. :func:`check_folder` decodes each file quickly (JPEGs at 1/8 scale through
PIL's draft mode, so the whole file is read) on a few threads, with a progress bar for large
folders, and caches the result per folder state (names, sizes and modification times), so
an unchanged folder is checked once. The cache lives in ``$NICEGAN_DATA_CHECK_CACHE``
(``off`` disables it), default ``~/.cache/nicegan-mmagic/data_check``.
"""
import hashlib
import json
import os
import os.path as osp
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

from ..utils.fileio import atomic_write

#: folders with at least this many images show a progress bar while being checked
PROGRESS_MIN = 500


class DataCheckError(ValueError):
    """A data folder is missing, empty or holds files that are not readable images."""


def cache_dir() -> Optional[str]:
    """Where check results are cached; None when ``$NICEGAN_DATA_CHECK_CACHE=off``."""
    path = os.environ.get('NICEGAN_DATA_CHECK_CACHE',
                          osp.join(osp.expanduser('~'), '.cache', 'nicegan-mmagic', 'data_check'))
    return None if path.lower() in ('off', '0', 'none', '') else path


def image_error(path: str) -> Optional[str]:
    """Why ``path`` is not a readable image (one short phrase), or None if it decodes.

    PIL decodes the whole file (JPEGs at 1/8 scale: fast, yet a truncated file fails); a
    file PIL does not recognise is accepted if OpenCV, the training loader's decoder,
    reads it.
    """
    from PIL import Image, UnidentifiedImageError
    if osp.getsize(path) == 0:
        return 'empty file'
    try:
        with Image.open(path) as img:
            if img.format == 'JPEG':
                img.draft('RGB', (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()
        return None
    except UnidentifiedImageError:
        import cv2
        if cv2.imread(path, cv2.IMREAD_UNCHANGED) is not None:
            return None
        return 'not an image'
    except Exception as err:  # truncated data, broken streams, decompression bombs
        return f'{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ""}'.strip()


def folder_state(files: Sequence[str]) -> str:
    """A fingerprint of ``files``: names, sizes and modification times."""
    digest = hashlib.sha1()
    for path in sorted(files):
        st = os.stat(path)
        digest.update(f'{path}\0{st.st_size}\0{st.st_mtime_ns}\n'.encode())
    return digest.hexdigest()


def _cache_file(folder: str) -> Optional[str]:
    root = cache_dir()
    if root is None:
        return None
    key = hashlib.sha1(osp.abspath(folder).encode()).hexdigest()[:20]
    return osp.join(root, f'{key}.json')


def check_folder(folder: str, files: Sequence[str], logger=None) -> Dict[str, str]:
    """``{path: reason}`` of the files of ``folder`` that are not readable images.

    Cached per folder state; shows a progress bar (MMEngine's) for at least
    :data:`PROGRESS_MIN` files that are not cached.
    """
    state = folder_state(files)
    cache = _cache_file(folder)
    if cache and osp.isfile(cache):
        try:
            with open(cache) as f:
                record = json.load(f)
            if record.get('state') == state:
                return dict(record['unreadable'])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable cache: check again
    if logger is not None and len(files) >= PROGRESS_MIN:
        logger.info(f'checking {len(files)} images in {folder} (once per folder state)')
    unreadable: Dict[str, str] = {}
    bar = None
    if len(files) >= PROGRESS_MIN:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(files), file=sys.stdout)  # the stdout of now, not of import
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        for path, err in zip(files, pool.map(image_error, files)):
            if err is not None:
                unreadable[path] = err
            if bar is not None:
                bar.update()
    if bar is not None:
        print(flush=True)
    if cache:
        try:
            atomic_write(cache, json.dumps(dict(folder=osp.abspath(folder), state=state,
                                                unreadable=unreadable)))
        except OSError:
            pass  # a read-only cache only costs the check next time
    return unreadable


def describe(paths: List[str], reasons: Dict[str, str], limit: int = 5) -> str:
    """``a.jpg (reason), b.jpg (reason) (+N more)`` for a one-line message."""
    shown = ', '.join(f'{p} ({reasons[p]})' for p in paths[:limit])
    return shown + (f' (+{len(paths) - limit} more)' if len(paths) > limit else '')

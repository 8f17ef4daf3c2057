"""Start-up check of image folders: every file is decoded once, before the first iteration.

A truncated or non-image file in ``trainA`` otherwise crashes the run whenever the random
sampler first draws it (hours in, with a traceback that does not name it), and again after
every resume. :func:`check_folder` decodes each file exactly as the training loader will:
``mmcv.imfrombytes`` with the ``color_type`` and ``imdecode_backend`` of the pipeline's
``LoadImageFromFile`` transforms (:data:`Decoder`; default ``('color', None)``: OpenCV's
``imdecode``, MMagic's default). So a file the check accepts is one the loader reads: other
decoders disagree on broken files (for a truncated JPEG, ``cv2.imread`` returns a partly
grey image and PIL raises, while ``cv2.imdecode`` returns None). PIL is asked only for the
words of the reason. It runs on a few threads, with a progress bar for large folders, and
caches the result per folder state (names, sizes, modification times and decoders), so an
unchanged folder is checked once. The cache lives in ``$NICEGAN_DATA_CHECK_CACHE`` (``off``
disables it), default ``~/.cache/nicegan-mmagic/data_check``.
"""
import hashlib
import json
import os
import os.path as osp
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

from ..utils.fileio import atomic_write

#: folders with at least this many images show a progress bar while being checked
PROGRESS_MIN = 500
#: how a loader decodes: (``color_type``, ``imdecode_backend``) of ``LoadImageFromFile``
#: (``mmcv.imfrombytes``'s ``flag`` and ``backend``; backend None: mmcv's global, cv2)
Decoder = Tuple[str, Optional[str]]
#: MMagic's ``LoadImageFromFile`` defaults
DEFAULT_DECODERS: Tuple[Decoder, ...] = (('color', None),)


class DataCheckError(ValueError):
    """A data folder is missing, empty or holds files that are not readable images."""


def cache_dir() -> Optional[str]:
    """Where check results are cached; None when ``$NICEGAN_DATA_CHECK_CACHE=off``."""
    path = os.environ.get('NICEGAN_DATA_CHECK_CACHE',
                          osp.join(osp.expanduser('~'), '.cache', 'nicegan-mmagic', 'data_check'))
    return None if path.lower() in ('off', '0', 'none', '') else path


def pipeline_decoders(transforms) -> Tuple[Decoder, ...]:
    """The distinct decoders of the image-loading transforms (those with ``color_type``
    and ``imdecode_backend``, like MMagic's and MMCV's ``LoadImageFromFile``) of a built
    pipeline's transforms; :data:`DEFAULT_DECODERS` if it has none."""
    found = [(str(t.color_type), t.imdecode_backend) for t in transforms
             if hasattr(t, 'color_type') and hasattr(t, 'imdecode_backend')]
    return tuple(dict.fromkeys(found)) or DEFAULT_DECODERS


def _why_not(content: bytes, backend: str) -> str:
    """Words for a file the loader's decoder rejected without saying why: PIL's reason if
    it fails too (``OSError: image file is truncated``), else that ``backend`` cannot."""
    import io

    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(content)) as img:
            img.load()
    except UnidentifiedImageError:
        return 'not an image'
    except Exception as err:  # truncated data, broken streams, decompression bombs
        return f'{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ""}'.strip()
    return f'the loader\'s decoder ({backend}) cannot decode it'


def image_error(path: str, decoders: Sequence[Decoder] = DEFAULT_DECODERS) -> Optional[str]:
    """Why the training loader cannot read ``path`` (one short phrase), or None if every
    decoder of ``decoders`` returns an image (``mmcv.imfrombytes``, as the loader)."""
    import mmcv
    from mmcv.image import io as mmcv_io
    try:
        with open(path, 'rb') as f:
            content = f.read()
    except OSError as err:
        return f'{type(err).__name__}: {err.strerror}'
    if not content:
        return 'empty file'
    for flag, backend in decoders:
        try:
            img = mmcv.imfrombytes(content, flag=flag, backend=backend)
        except Exception as err:  # pillow/turbojpeg/tifffile raise, cv2 returns None
            return f'{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ""}'.strip()
        if img is None or getattr(img, 'size', 0) == 0:
            return _why_not(content, backend or mmcv_io.imread_backend)
    return None


def folder_state(files: Sequence[str], decoders: Sequence[Decoder] = DEFAULT_DECODERS) -> str:
    """A fingerprint of ``files`` (names, sizes and modification times) and ``decoders``."""
    digest = hashlib.sha1(repr(tuple(decoders)).encode())
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


def check_folder(folder: str, files: Sequence[str], logger=None,
                 decoders: Sequence[Decoder] = DEFAULT_DECODERS) -> Dict[str, str]:
    """``{path: reason}`` of the files of ``folder`` that the loader decoding with
    ``decoders`` cannot read (:func:`image_error`).

    Cached per folder state; shows a progress bar (MMEngine's) for at least
    :data:`PROGRESS_MIN` files that are not cached.
    """
    decoders = tuple(decoders)
    state = folder_state(files, decoders)
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
        for path, err in zip(files, pool.map(partial(image_error, decoders=decoders), files)):
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

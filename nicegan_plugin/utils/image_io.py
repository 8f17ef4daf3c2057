"""Reading, writing, resizing and finding image files: one home for every tool.

:data:`IMAGE_EXTENSIONS` is the single list of image file types the plugin reads
(``tools/translate.py``, ``tools/eval_folders.py``, the data checks, the quickstart):
an image another tool writes is never silently left out by the next one. Every image the
plugin writes goes through :func:`save_rgb` (or :func:`save_bgr`): encoded in memory, then
written atomically (:func:`~nicegan_plugin.utils.fileio.atomic_write`), so a process killed
mid-write leaves the old file or none under the name, never a truncated one; the temporary
files (``.<name>.tmp-XXXX``, no image extension) are never collected as images.
"""
import io
import os
import os.path as osp
from typing import Callable, List, Tuple

import numpy as np
from PIL import Image, ImageOps

from .fileio import atomic_write, is_temp_file

#: extensions read from folders (case-insensitive); the official dataset's list + tiff/webp
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


class ImageReadError(OSError):
    """An input file could not be decoded as an image."""


def is_image_file(name: str) -> bool:
    """Whether ``name`` (a file name or path) has one of :data:`IMAGE_EXTENSIONS`
    (case-insensitive) and is not the temporary file of an unfinished atomic write."""
    return name.lower().endswith(IMAGE_EXTENSIONS) and not is_temp_file(osp.basename(name))


def read_rgb(path: str) -> np.ndarray:
    """HxWx3 RGB uint8 of any image PIL reads: grayscale and palette images become
    3-channel, alpha is dropped (as MMagic's and the official loaders do), 16-bit
    images are scaled to 8 bits, EXIF orientation is applied (as OpenCV does)."""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode.startswith(('I', 'F')):  # 16/32-bit grayscale
                arr = np.asarray(img, dtype=np.float64)
                arr = arr / 257.0 if arr.max() > 255 else arr
                img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
            rgb = np.asarray(img.convert('RGB'))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageReadError(f'{type(err).__name__}: {err}') from err
    if rgb.ndim != 3 or min(rgb.shape[:2]) < 1:
        raise ImageReadError(f'empty image of shape {rgb.shape}')
    return rgb


def encode_rgb(image: np.ndarray, ext: str) -> bytes:
    """The file bytes of an HxWx3 RGB uint8 image in the format of extension ``ext``
    (``'.png'``, ``'.jpg'`` (quality 95), ...: any PIL writes).

    Raises:
        ValueError: naming the extension, when PIL has no writer for it.
    """
    ext = ext.lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        raise ValueError(f'no image format for extension {ext!r}; use e.g. .png or .jpg')
    kwargs = dict(quality=95) if fmt in ('JPEG', 'WEBP') else {}
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def save_rgb(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (see the module doc); the format follows the
    extension (:func:`encode_rgb`)."""
    atomic_write(path, encode_rgb(image, osp.splitext(path)[1]))


def save_bgr(path: str, image: np.ndarray) -> None:
    """:func:`save_rgb` for a BGR uint8 image (OpenCV's and MMagic's channel order)."""
    save_rgb(path, np.ascontiguousarray(image[..., ::-1]))


def resize_rgb(image: np.ndarray, size: Tuple[int, int],
               resample: int = Image.BILINEAR) -> np.ndarray:
    """Resize an HxWx3 uint8 array to ``size`` = (height, width) with PIL.

    Bilinear PIL is what the configs' ``Resize(backend='pillow')`` and the
    official ``transforms.Resize`` use on the way in.
    """
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), resample))


def collect_images(input_path: str, recursive: bool = True) -> List[Tuple[str, str]]:
    """``(path, relative path)`` of one file, or of every image file under a folder
    (sorted; subfolders too when ``recursive``; extensions in :data:`IMAGE_EXTENSIONS`;
    temporary files of interrupted atomic writes left out)."""
    if osp.isfile(input_path):
        return [(input_path, osp.basename(input_path))]
    return walk_files(input_path, is_image_file, recursive)


def walk_files(folder: str, accept: Callable[[str], bool],
               recursive: bool = True) -> List[Tuple[str, str]]:
    """``(path, path relative to folder)`` of every file under ``folder`` whose name
    ``accept`` takes, sorted (subfolders too when ``recursive``); the one folder walk of
    :func:`collect_images` and the video lister."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'input not found: {folder}')
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        if not recursive:
            dirs.clear()
        for name in sorted(files):
            if accept(name):
                path = osp.join(root, name)
                found.append((path, osp.relpath(path, folder)))
    return found

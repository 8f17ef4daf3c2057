"""Translating images with a loaded model or an exported file (the logic of
tools/translate.py), on top of the one translation path.

- :func:`translate_arrays` (:func:`nicegan_plugin.inference.translate_arrays`, re-exported):
  RGB uint8 arrays of any size -> translations (and CAM overlays), for a model or a
  translator.
- :func:`translate_images`: a file or a folder tree -> the same relative paths
  under an output folder; unreadable files, and images that do not fit the memory
  budget or the free temporary space, are reported, not fatal.
- :func:`translate_test_set`: every test-set image of a built Runner, through the
  model's ``test_step`` and
  :func:`~nicegan_plugin.engine.hooks.translation_saver.write_translations`.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..engine.hooks.translation_saver import write_translations
from ..inference.pipeline import ModelOrTranslator, as_translator, translate_arrays
from ..inference.tiled import ImageTooLargeError
from ..inference.translator import (
    TorchTranslator,
    Translator,
    model_image_size,
    resolve_direction,
)
from ..utils.image_io import ImageReadError, collect_images, read_rgb, resize_rgb, save_rgb
from ..utils.model_utils import eval_mode
from ..utils.pixels import ModelIO

#: suffix of the CAM overlay written next to an output (``<stem>_cam<ext>``)
HEATMAP_SUFFIX = '_cam'

__all__ = ['ModelOrTranslator', 'as_translator', 'translate_arrays', 'images_from_files',
           'heatmap_path', 'TranslationReport', 'translate_images', 'translate_test_set']


def images_from_files(model: nn.Module, paths: Sequence[str]) -> torch.Tensor:
    """(B, 3, H, W) model-space batch of image files at the model's size, e.g. for
    :func:`~nicegan_plugin.visualization.cam_panel` (``{domain: images_from_files(...)}``)."""
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


def translate_images(model: ModelOrTranslator, input_path: str, output_dir: str,
                     direction: str = 'a2b', batch_size: int = 1, heatmaps: bool = False,
                     keep_size: bool = True, progress: bool = True,
                     native_size: bool = False, tile: Optional[int] = None,
                     max_memory: Optional[int] = None,
                     log: Optional[Callable[[str], None]] = None) -> TranslationReport:
    """Translate a file or a folder tree into ``output_dir`` (same relative paths and
    names). Unreadable/corrupt files are skipped and listed in the report.

    Args:
        direction: ``'a2b'`` (model.domains[0] -> domains[1]), ``'b2a'`` or
            ``'<src>2<tgt>'``; a translator fixes its own direction.
        heatmaps: also write ``<stem>_cam<ext>``, the CAM heatmap over the input.
        keep_size: outputs at the inputs' sizes (else at the model's size).
        native_size, tile, max_memory: see :func:`translate_arrays`.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    if isinstance(model, Translator):
        translator = model
    else:
        source, target = resolve_direction(model, direction)
        translator = TorchTranslator(model, f'{source}2{target}', heatmap=heatmaps)
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
            _translate_and_save(translator, loaded, report, keep_size, heatmaps,
                                native_size, tile, max_memory, log)
        bar.update(len(files[start:start + batch_size]))
    bar.close()
    return report


def _translate_and_save(translator: Translator, loaded: List[Tuple[str, str, np.ndarray]],
                        report: TranslationReport, keep_size: bool, heatmaps: bool,
                        native_size: bool, tile: Optional[int], max_memory: Optional[int],
                        log: Optional[Callable[[str], None]]) -> None:
    """Translate ``(input, output, image)`` triples and write the outputs; an image that
    does not fit (the memory budget, the free temporary space) is skipped with its
    reason, like an unreadable one."""
    try:
        outs, overlays = translate_arrays(translator, [im for *_, im in loaded], None, None,
                                          keep_size, heatmaps, native_size, tile,
                                          max_memory, log)
    except ImageTooLargeError as err:
        if len(loaded) > 1:  # find which: one at a time
            for one in loaded:
                _translate_and_save(translator, [one], report, keep_size, heatmaps,
                                    native_size, tile, max_memory, log)
            return
        report.failed.append((loaded[0][0], str(err)))
        return
    for i, (path, out_path, _) in enumerate(loaded):
        try:
            save_rgb(out_path, outs[i])
            if overlays is not None:
                save_rgb(heatmap_path(out_path), overlays[i])
            report.outputs.append(out_path)
        except (OSError, ValueError, KeyError) as err:  # unknown format, disk
            report.failed.append((path, f'cannot write {out_path}: {err}'))


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

"""``NICEGANUnpairedImageDataset``: MMagic's unpaired dataset that checks its data first.

MMagic's ``UnpairedImageDataset`` fails late and vaguely: a missing or empty ``trainA``
gives a bare ``AssertionError``, a ``data_root`` that is a file the same, and an
undecodable image crashes the run when it is first drawn with ``'NoneType' object has no
attribute 'ndim'``. This subclass (same arguments, same samples) explains the folder
problems in one line each, decodes every image at construction exactly as its pipeline's
``LoadImageFromFile`` will (:mod:`.data_check`; cached per folder state) and stops listing
the unreadable files, or leaves them out with ``unreadable='skip'``. A file that fails
later (truncated after the check: a sync tool still copying, a disk hiccup) stops the run
naming it, before the iteration that would use it (nothing is saved after it), or, with
``unreadable='skip'`` in training, is named once and replaced by another sample.
"""
import os
import os.path as osp
from typing import Optional

from mmagic.datasets import UnpairedImageDataset
from mmagic.registry import DATASETS
from mmengine.logging import MMLogger

from ..utils.image_io import IMAGE_EXTENSIONS, is_image_file
from .data_check import DataCheckError, check_folder, describe, image_error, pipeline_decoders

SPLITS = ('trainA', 'trainB', 'testA', 'testB')


class ImageDecodeError(DataCheckError):
    """An image failed to decode while a batch was being read."""


@DATASETS.register_module()
class NICEGANUnpairedImageDataset(UnpairedImageDataset):
    """``UnpairedImageDataset`` with a start-up data check (see the module doc).

    Args:
        unreadable: ``'stop'`` (default): unreadable images stop the run at start-up,
            listed; ``'skip'``: they are left out (listed in the log), and an image that
            fails to decode later is replaced by another sample.
        check_images: decode every image at start-up (default True).
        pair_by_index: pair A image ``i`` with B image ``i % len(B)`` in training too,
            instead of a random B image (exactly repeatable runs, e.g. for tests).
        Others: as MMagic's ``UnpairedImageDataset``.
    """

    def __init__(self, data_root, pipeline, io_backend: Optional[str] = None,
                 test_mode: bool = False, domain_a: str = 'A', domain_b: str = 'B',
                 unreadable: str = 'stop', check_images: bool = True,
                 pair_by_index: bool = False) -> None:
        if unreadable not in ('stop', 'skip'):
            raise DataCheckError(f"unreadable must be 'stop' or 'skip', got {unreadable!r}")
        self.unreadable = unreadable
        self.check_images = check_images and io_backend in (None, 'local', 'disk')
        self.pair_by_index = pair_by_index
        self._loader_keys = ('val_dataloader', 'test_dataloader') if test_mode \
            else ('train_dataloader',)
        self._warned = set()
        _check_root(data_root, self._loader_keys[0])
        super().__init__(data_root, pipeline, io_backend, test_mode, domain_a, domain_b)

    def scan_folder(self, path):
        """The parent's sorted image list of ``path``, after the folder checks and the
        image check."""
        path = str(path)
        split = osp.basename(path.rstrip('/'))
        if not osp.isdir(path):
            present = sorted(n for n in os.listdir(osp.dirname(path)) if not n.startswith('.'))
            raise DataCheckError(f'{path} not found: data_root must hold {", ".join(SPLITS)} '
                                 f'(it holds: {", ".join(present) or "nothing"})')
        # MMagic's listing (same order), with the extensions every tool of the plugin
        # reads (case-insensitive; MMagic's list has no .webp/.pgm)
        images = [self.file_backend.join_path(path, name) for name in
                  self.file_backend.list_dir_or_file(path, list_dir=False, recursive=True)
                  if is_image_file(name)]
        if not images:
            raise DataCheckError(f'{path} has no image files ({", ".join(IMAGE_EXTENSIONS)}, '
                                 'any case, searched recursively)')
        if not self.check_images:
            return images
        logger = MMLogger.get_current_instance()
        bad = check_folder(path, images, logger, self._decoders())
        if not bad:
            return images
        listed = sorted(bad)
        for p in listed:
            logger.warning(f'unreadable image in {split}: {p} ({bad[p]})')
        if self.unreadable == 'stop':
            raise DataCheckError(
                f'{len(listed)} unreadable image(s) in {path}: {describe(listed, bad)}; '
                f'remove or replace them, or leave them out with {self._skip_option()}')
        kept = [p for p in images if p not in bad]
        if not kept:
            raise DataCheckError(f'{path}: none of its {len(images)} images is readable')
        logger.warning(f'{split}: leaving out {len(listed)} unreadable image(s) '
                       f'(unreadable=skip); {len(kept)} left')
        return kept

    def get_data_info(self, idx) -> dict:
        """The parent's sample paths; with ``pair_by_index``, B is chosen like in test mode."""
        if not self.pair_by_index or self.test_mode:
            return super().get_data_info(idx)
        return {f'img_{self.domain_a}_path': self.data_infos_a[idx % self.len_a]['path'],
                f'img_{self.domain_b}_path': self.data_infos_b[idx % self.len_b]['path']}

    def _decoders(self):
        """How the pipeline's loaders decode (:func:`.data_check.pipeline_decoders`)."""
        return pipeline_decoders(getattr(self.pipeline, 'transforms', ()))

    def prepare_data(self, idx):
        """The parent's sample; a file that fails to decode is named (or, with
        ``unreadable='skip'`` in training, replaced by another sample)."""
        info = self.get_data_info(idx)
        try:
            return self.pipeline(info)
        except Exception:
            # which file: decoded again as the loader does (MMagic's loader turns an
            # undecodable file into "'NoneType' object has no attribute 'ndim'")
            reasons = {p: image_error(p, self._decoders()) for k, p in info.items()
                       if k.endswith('_path') and isinstance(p, str)}
            bad = [p for p, why in reasons.items() if why is not None]
            if not bad:
                raise
            if self.unreadable == 'skip' and not self.test_mode:
                if bad[0] not in self._warned:
                    self._warned.add(bad[0])
                    MMLogger.get_current_instance().warning(
                        f'cannot decode {bad[0]} ({reasons[bad[0]]}); drawing another '
                        'sample instead (unreadable=skip)')
                return None  # BaseDataset draws another index
            since = ' (it was readable at start-up: changed since, e.g. still being copied?)' \
                if self.check_images else ''
            raise ImageDecodeError(
                f'cannot decode image {bad[0]} ({reasons[bad[0]]}){since}; remove or '
                f'replace it, or pass {self._skip_option()}') from None

    def _skip_option(self) -> str:
        return '--cfg-options ' + ' '.join(f'{k}.dataset.unreadable=skip'
                                           for k in self._loader_keys)


def _check_root(data_root, loader_key: str) -> None:
    """One-line errors for a data_root that is unset, missing or a file."""
    if data_root is None:
        raise DataCheckError(
            f'{loader_key}.dataset.data_root is not set: pass the folder holding '
            f'{", ".join(SPLITS)}, e.g. --cfg-options train_dataloader.dataset.data_root=DIR '
            'val_dataloader.dataset.data_root=DIR test_dataloader.dataset.data_root=DIR')
    root = str(data_root)
    if '://' in root:
        return
    if osp.isfile(root):
        raise DataCheckError(f'data_root {root} is a file; it must be the folder holding '
                             f'{", ".join(SPLITS)}')
    if not osp.isdir(root):
        raise DataCheckError(f'data_root {root} not found (it must be the folder holding '
                             f'{", ".join(SPLITS)})')

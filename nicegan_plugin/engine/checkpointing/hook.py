"""Saving checkpoints: atomic writes, never a non-finite checkpoint, never over another run.

:class:`AtomicLocalBackend` (MMEngine file backend ``'nicegan_atomic_local'``) and
:class:`NICEGANCheckpointHook`: MMEngine's local backend writes checkpoints in place, so
a crash mid-write leaves a truncated ``iter_N.pth`` that ``last_checkpoint`` points at.
The hook saves through the atomic backend and writes ``last_checkpoint`` atomically;
nothing else in the process changes how it writes files. The hook also refuses to save
non-finite weights, writes ``last_checkpoint`` relative to the work dir, removes temp
files of interrupted saves at the start, and refuses to start a run that would write over
checkpoints of another run (:mod:`..guards.resume`). Reading checkpoints: :mod:`.reading`.
"""
import os.path as osp
import weakref
from typing import Iterable, List, Optional, Tuple, Union

import torch
from mmagic.registry import HOOKS
from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from ...utils.fileio import atomic_write, remove_stale_temp_files
from ...utils.model_utils import unwrap
from ..guards.nonfinite import NonFiniteError, nonfinite_tensors
from ..guards.resume import ResumeError, checkpoints_after, find_resumable_checkpoint
from ..guards.run_lock import RunLockError, acquire_run_lock, holds_run_lock, verify_run_lock

ATOMIC_BACKEND = 'nicegan_atomic_local'
#: key of ``checkpoint['meta']`` holding [height, width] of the training images
IMG_SIZE_KEY = 'img_size'


def batch_image_size(data_batch) -> Optional[Tuple[int, int]]:
    """(height, width) of the first image tensor in a data batch (MMagic's
    ``{'inputs': {'img_A': [tensor, ...], ...}}`` or any nesting of dicts, lists and
    tensors), or None."""
    if isinstance(data_batch, torch.Tensor):
        return tuple(int(s) for s in data_batch.shape[-2:]) if data_batch.dim() >= 3 else None
    items = data_batch.values() if isinstance(data_batch, dict) else \
        data_batch if isinstance(data_batch, (list, tuple)) else ()
    for item in items:
        size = batch_image_size(item)
        if size:
            return size
    return None


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend whose ``put``/``put_text`` are atomic
    (temporary file in the same folder, fsync, rename; see :mod:`nicegan_plugin.utils.fileio`)."""

    def put(self, obj: bytes, filepath: Union[str, 'osp.PathLike']) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, 'osp.PathLike'],
                 encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj.encode(encoding))


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


@HOOKS.register_module()
class NICEGANCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` writing checkpoints and ``last_checkpoint`` atomically.

    Takes every argument of ``CheckpointHook``. For a local ``out_dir`` with no
    ``backend_args``, checkpoints go through :class:`AtomicLocalBackend`. Besides:

    - ``before_run``: an auto-resume (``resume=True``, no ``load_from``) takes the
      checkpoint of :func:`.resume.find_resumable_checkpoint` (``last_checkpoint`` relative
      to the work dir and validated), or starts a new run if there is none;
    - ``before_train``: the run lock of the work dir and of ``out_dir`` is taken (a no-op
      under ``tools/train.py``, which took it before building the runner; here it guards
      runs started otherwise): a run in a work dir another run holds stops on every rank,
      naming it; under the lock, temp files of interrupted saves are removed; a run that
      would write over checkpoints beyond its start iteration (another run's) stops;
    - ``after_run``: the locks taken here are released (also when the runner is freed);
    - every save: weights holding a NaN/Inf stop the run instead of being saved; the run
      lock is verified (a deleted lock file is made again; a work dir another run has
      taken stops the run before it writes);
      ``last_checkpoint`` is written relative to the work dir.
    """

    def __init__(self, *args, **kwargs) -> None:
        out_dir = kwargs.get('out_dir')
        if kwargs.get('backend_args') is None and kwargs.get('file_client_args') is None \
                and (out_dir is None or '://' not in str(out_dir)):
            kwargs['backend_args'] = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, **kwargs)
        self.img_size: Optional[Tuple[int, int]] = None
        self._locks: List = []  # run locks this hook took (not the tool's)

    def before_run(self, runner) -> None:
        # runs before Runner.load_or_resume, whose auto-resume reads last_checkpoint as-is
        if runner._resume and runner._load_from is None:
            runner._load_from = find_resumable_checkpoint(runner.work_dir,
                                                          self.filename_tmpl)
            if runner._load_from is None:
                # MMEngine's meaning of resume=True (tools/train.py --resume stops instead)
                runner.logger.warning(f'resume=True, but {runner.work_dir} holds no checkpoint '
                                      '(no last_checkpoint, no iter_N.pth): a new run starts')
                runner._resume = False

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.img_size is None:  # the training images' size, for every tool to find
            self.img_size = batch_image_size(data_batch)
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record the training image size in the checkpoint's ``meta``
        (:data:`IMG_SIZE_KEY`): translate, export, test and the demo resize to it."""
        if self.img_size is not None:
            checkpoint.setdefault('meta', {})[IMG_SIZE_KEY] = list(self.img_size)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if '://' in str(self.out_dir):
            return
        folders = list(dict.fromkeys([runner.work_dir, self.out_dir]))
        self._lock_run(runner, folders)
        for folder in folders:
            if holds_run_lock(folder):  # rank 0, and never in a folder another run holds
                for path in remove_stale_temp_files(folder):
                    runner.logger.info(f'removed {path} (temp file of an interrupted save)')
        unit, start = ('epoch', runner.epoch) if self.by_epoch else ('iteration', runner.iter)
        later = checkpoints_after(self.out_dir, start, self.filename_tmpl)
        if later:
            names = ', '.join(osp.basename(p) for p in list(later.values())[:4]) + \
                (f' (+{len(later) - 4} more)' if len(later) > 4 else '')
            if runner._resume:  # resumed from an older checkpoint than the newest (a
                newest = later[max(later)]  # stale last_checkpoint, or an old PATH)
                raise ResumeError(
                    f'{self.out_dir} holds {names}, beyond {unit} {start} of '
                    f'{runner._load_from}, which this run resumed from: it would write over '
                    f'them; resume from the newest with --resume {newest}, or move the newer '
                    f'ones away to continue from {start}')
            raise ResumeError(
                f'{self.out_dir} already holds {names}, beyond {unit} {start} where this run '
                'starts: it would write over them; resume the run that wrote them (--resume), '
                'move them away, or use another --work-dir')

    def _lock_run(self, runner, folders: Iterable[str]) -> None:
        """Take the run lock of ``folders`` on rank 0; if another run holds one, every
        rank stops with the same one-line message (one broadcast when distributed)."""
        def take() -> None:
            for folder in folders:
                had = holds_run_lock(folder)
                lock = acquire_run_lock(folder)
                if lock is not None and not had:
                    self._locks.append(lock)
                    weakref.finalize(runner, lock.release)
        _on_rank0_for_all(take)

    def _verify_lock(self, runner) -> None:
        """Before a save: the run locks held on rank 0 still guard the work dir and
        ``out_dir`` (:func:`.run_lock.verify_run_lock`: a deleted lock file is made again;
        a work dir another run has taken stops every rank before anything is written)."""
        if '://' in str(self.out_dir):
            return

        def verify() -> None:
            for folder in dict.fromkeys([runner.work_dir, self.out_dir]):
                if verify_run_lock(folder):
                    runner.logger.warning(f'the run lock of {folder} was deleted while this '
                                          'run held it; locked and written again')
        _on_rank0_for_all(verify)

    def after_run(self, runner) -> None:
        super().after_run(runner)
        while self._locks:
            self._locks.pop().release()

    def _check_finite(self, runner, step: int, name: str) -> None:
        bad = nonfinite_tensors(unwrap(runner.model).state_dict())
        if bad:
            raise NonFiniteError(
                f'the weights hold NaN/Inf at {"epoch" if self.by_epoch else "iteration"} '
                f'{step} ({len(bad)} tensors, e.g. {", ".join(bad[:3])}); {name} not saved. '
                'Last good checkpoint: '
                f'{self.last_ckpt or runner.message_hub.get_info("last_ckpt") or "none"}')

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if self.save_best:  # MMEngine saves best checkpoints without the method below
            self._check_finite(runner, runner.epoch if self.by_epoch else runner.iter,
                               'the best checkpoint')
            self._verify_lock(runner)
        super()._save_best_checkpoint(runner, metrics)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        self._check_finite(runner, step, self.filename_tmpl.format(step))
        self._verify_lock(runner)
        super()._save_checkpoint_with_step(runner, step, meta)
        if is_main_process():  # the parent wrote last_checkpoint in place: redo it atomically,
            # relative to the work dir (a copied work dir resumes from its own files)
            last = str(self.last_ckpt)
            if '://' not in last:
                last = osp.relpath(last, runner.work_dir)
            atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), last)


def _on_rank0_for_all(action) -> None:
    """Run ``action`` on rank 0; a :class:`RunLockError` it raises is raised on every rank
    with the same message (one broadcast when distributed), so no rank waits forever."""
    message = None
    if is_main_process():
        try:
            action()
        except RunLockError as err:
            message = str(err)
    if get_world_size() > 1:
        box = [message]
        broadcast_object_list(box, src=0)
        message = box[0]
    if message:
        raise RunLockError(message)

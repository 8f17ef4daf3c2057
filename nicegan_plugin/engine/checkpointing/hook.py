"""Saving checkpoints: :class:`NICEGANCheckpointHook`, MMEngine's ``CheckpointHook`` that
saves atomically, never a non-finite checkpoint and never over another run.

Saving is the hook's one job; each other one is a small helper in its own module, which the
hook calls at the right moment of the run:

- the atomic file backend and the clean-up of interrupted saves: :mod:`.backend`;
- the training image size in each checkpoint's ``meta``: :mod:`.image_size`;
- what ``resume=True`` resumes from, the refusal to write over later checkpoints, and
  ``last_checkpoint`` relative to the work dir: :mod:`..guards.resume`;
- the run lock of the work dir, taken on rank 0 with every rank stopping together on a
  refusal, verified before each save: :class:`..guards.run_lock.RunLocks`;
- no save of NaN/Inf weights: :func:`..guards.nonfinite.refuse_nonfinite_weights`.

Reading checkpoints: :mod:`.reading`.
"""
from mmagic.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from ..guards.nonfinite import refuse_nonfinite_weights
from ..guards.resume import auto_resume, refuse_overwrite, write_last_checkpoint
from ..guards.run_lock import RunLocks
from .backend import remove_interrupted_saves, with_atomic_backend
from .image_size import TrainingImageSize


@HOOKS.register_module()
class NICEGANCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` writing checkpoints and ``last_checkpoint`` atomically.

    Takes every argument of ``CheckpointHook``. For a local ``out_dir`` with no
    ``backend_args``, checkpoints go through :class:`.backend.AtomicLocalBackend`. Besides:

    - ``before_run``: an auto-resume (``resume=True``, no ``load_from``) takes the
      checkpoint of :func:`..guards.resume.find_resumable_checkpoint` (``last_checkpoint``
      relative to the work dir and validated), or starts a new run if there is none;
    - ``before_train``: the run lock of the work dir and of ``out_dir`` is taken (a no-op
      under ``tools/train.py``, which took it before building the runner; here it guards
      runs started otherwise): a run in a work dir another run holds stops on every rank,
      naming it; under the lock, temp files of interrupted saves are removed; a run that
      would write over checkpoints beyond its start iteration (another run's) stops;
    - ``after_run``: the locks taken here are released (also when the runner is freed);
    - every save: weights holding a NaN/Inf stop the run instead of being saved; the run
      lock is verified (a deleted lock file is made again; a work dir another run has
      taken stops the run before it writes); the training image size goes into ``meta``;
      ``last_checkpoint`` is written relative to the work dir.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **with_atomic_backend(kwargs))
        self.image_size = TrainingImageSize()
        self.run_locks = RunLocks()  # the run locks this hook took (not the tool's)

    def _local(self) -> bool:
        """Whether checkpoints go to a local folder (the lock and clean-up apply)."""
        return '://' not in str(self.out_dir)

    def _folders(self, runner) -> list:
        return list(dict.fromkeys([runner.work_dir, self.out_dir]))

    def before_run(self, runner) -> None:
        # runs before Runner.load_or_resume, whose auto-resume reads last_checkpoint as-is
        auto_resume(runner, self.filename_tmpl)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not self._local():
            return
        folders = self._folders(runner)
        self.run_locks.take(runner, folders)
        remove_interrupted_saves(folders, runner.logger)
        refuse_overwrite(runner, self.out_dir, self.by_epoch, self.filename_tmpl)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self.image_size.see(data_batch)  # the training images' size, for every tool to find
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record the training image size in the checkpoint's ``meta``
        (:data:`.image_size.IMG_SIZE_KEY`): translate, export, test and the demo resize to it."""
        self.image_size.record(checkpoint)

    def after_run(self, runner) -> None:
        super().after_run(runner)
        self.run_locks.release()

    def _before_write(self, runner, step: int, name: str) -> None:
        """Before ``name`` is saved at ``step``: the weights are finite and the run locks
        still guard the work dir and ``out_dir``."""
        refuse_nonfinite_weights(
            runner.model, f'{"epoch" if self.by_epoch else "iteration"} {step}', name,
            self.last_ckpt or runner.message_hub.get_info('last_ckpt'))
        if self._local():
            self.run_locks.verify(runner, self._folders(runner))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if self.save_best:  # MMEngine saves best checkpoints without the method below
            self._before_write(runner, runner.epoch if self.by_epoch else runner.iter,
                               'the best checkpoint')
        super()._save_best_checkpoint(runner, metrics)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        self._before_write(runner, step, self.filename_tmpl.format(step))
        super()._save_checkpoint_with_step(runner, step, meta)
        if is_main_process():  # the parent wrote last_checkpoint in place: redo it atomically
            write_last_checkpoint(runner.work_dir, str(self.last_ckpt))

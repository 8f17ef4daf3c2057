"""Atomic checkpoint files: MMEngine's local file backend with atomic writes, and the
clean-up of the temp files an interrupted save leaves.

MMEngine's local backend writes a checkpoint in place, so a crash mid-write leaves a truncated
``iter_N.pth`` that ``last_checkpoint`` points at. :class:`AtomicLocalBackend` (MMEngine file
backend ``'nicegan_atomic_local'``) writes each file to a temp file in the same folder, fsyncs
and renames it (:mod:`nicegan_plugin.utils.fileio`); the checkpoint hook saves through it
(:func:`with_atomic_backend`) and nothing else in the process changes how it writes files.
"""
import os.path as osp
from typing import Iterable, Union

from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend

from ...utils.fileio import atomic_write, remove_stale_temp_files
from ..guards.run_lock import holds_run_lock

ATOMIC_BACKEND = 'nicegan_atomic_local'


class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend whose ``put``/``put_text`` are atomic
    (temporary file in the same folder, fsync, rename; see :mod:`nicegan_plugin.utils.fileio`)."""

    def put(self, obj: bytes, filepath: Union[str, 'osp.PathLike']) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, 'osp.PathLike'],
                 encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj.encode(encoding))


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def with_atomic_backend(kwargs: dict) -> dict:
    """``CheckpointHook`` arguments that save through :class:`AtomicLocalBackend` when they
    name no backend (no ``backend_args``, no ``file_client_args``) and ``out_dir`` is local
    (not a URL); otherwise as given. ``kwargs`` is updated in place and returned."""
    out_dir = kwargs.get('out_dir')
    if kwargs.get('backend_args') is None and kwargs.get('file_client_args') is None \
            and (out_dir is None or '://' not in str(out_dir)):
        kwargs['backend_args'] = dict(backend=ATOMIC_BACKEND)
    return kwargs


def remove_interrupted_saves(folders: Iterable[str], logger) -> None:
    """Remove the temp files of interrupted saves in each of ``folders`` whose run lock this
    process holds (rank 0 under the lock only: in a folder another run holds, a temp file may
    be a save in flight); each removal is logged."""
    for folder in folders:
        if holds_run_lock(folder):
            for path in remove_stale_temp_files(folder):
                logger.info(f'removed {path} (temp file of an interrupted save)')

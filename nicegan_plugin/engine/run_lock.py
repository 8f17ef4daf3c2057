"""One run per work dir: an advisory lock held for the run's whole life.

Two training runs in one work dir interleave their checkpoints and logs, and the start-up
clean-up of one deletes the in-flight temp files of the other. :func:`acquire_run_lock`
takes an exclusive, non-blocking ``fcntl.flock`` on ``<work_dir>/.nicegan-run.lock`` and
keeps it until the process ends (or :meth:`RunLock.release`). The kernel releases it when
the process dies, however it dies, so a killed run never blocks the next one; there is no
stale-lock clean-up to get wrong. The holder writes who it is (pid, host, start time,
command) into the file, and a refused run names it in one line.

Only global rank 0 of a distributed run takes it (:func:`launcher_rank`): a multi-node run
on a shared file system is one run. Two runs on different hosts exclude each other where the
file system supports ``flock`` across hosts (local disks, NFSv4 through byte-range locks,
Lustre mounted with ``-o flock``); where it does not (``ENOLCK``/``EOPNOTSUPP``), a warning
says so and the run goes on unguarded.

``tools/train.py`` takes the lock before the runner is built, so a refused run touches
nothing (no log folder, no clean-up); ``NICEGANCheckpointHook`` takes it again (a no-op in
the same process) before its temp-file clean-up, which guards runs started by MMagic's own
tools and by code that builds a ``Runner`` itself.
"""
import errno
import fcntl
import json
import logging
import os
import os.path as osp
import shlex
import socket
import sys
import time
from typing import Dict, Optional

from mmengine.logging import print_log

#: the lock file's name inside the work dir
LOCK_NAME = '.nicegan-run.lock'
#: the environment variable of each launcher that holds the global rank
_RANK_ENV = {'pytorch': ('RANK',), 'slurm': ('SLURM_PROCID',),
             'mpi': ('OMPI_COMM_WORLD_RANK', 'PMI_RANK', 'PMIX_RANK')}
#: file systems without flock support: the run goes on unguarded (with a warning)
_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class RunLockError(RuntimeError):
    """Another run holds the work dir."""


class RunLock:
    """A held lock: the open file whose ``flock`` it is (see the module doc)."""

    def __init__(self, work_dir: str, path: str, fd: int) -> None:
        self.work_dir, self.path, self.fd = work_dir, path, fd

    @property
    def held(self) -> bool:
        return self.fd >= 0

    def release(self) -> None:
        """Unlock and close (idempotent); the file stays, naming the last holder."""
        if self.fd >= 0:
            _HELD.pop(_key(self.work_dir), None)
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = -1


#: locks this process holds, by the work dir's real path
_HELD: Dict[str, RunLock] = {}


def _key(work_dir: str) -> str:
    return osp.realpath(work_dir)


def _close_in_child() -> None:
    """A forked child (a DataLoader worker) closes its copies of the lock files: the lock
    belongs to the run's main process, and closing a copy does not release it."""
    for lock in list(_HELD.values()):
        try:
            os.close(lock.fd)
        except OSError:
            pass
        lock.fd = -1
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


def launcher_rank(launcher: str) -> int:
    """The global rank of this process from its launcher's environment (0 for
    ``'none'``): known before the process group starts."""
    for name in _RANK_ENV.get(launcher, ()):
        if os.environ.get(name, '').isdigit():
            return int(os.environ[name])
    return 0


def holder_record() -> dict:
    """What the lock file says about this process."""
    return dict(pid=os.getpid(), host=socket.gethostname(),
                started=time.strftime('%Y-%m-%d %H:%M:%S %Z'),
                command=shlex.join([osp.basename(sys.executable)] + sys.argv))


def describe_holder(text: str) -> str:
    """``pid 123 on host h, started ..., command: ...`` from a lock file's text."""
    try:
        rec = json.loads(text)
        return (f"pid {rec['pid']} on host {rec['host']}, started {rec['started']}, "
                f"command: {' '.join(str(rec['command']).split())}")
    except (ValueError, KeyError, TypeError):
        return 'a run that has not written its details yet'


def _read_holder(fd: int, wait: float = 2.0) -> str:
    """The holder's record; it writes it right after locking, so wait a moment for it."""
    deadline = time.monotonic() + wait
    while True:
        text = os.pread(fd, 1 << 16, 0).decode('utf-8', 'replace').strip()
        if text or time.monotonic() > deadline:
            return describe_holder(text)
        time.sleep(0.05)


def acquire_run_lock(work_dir: str, rank: int = 0) -> Optional[RunLock]:
    """Take the run lock of ``work_dir`` (created if needed) for this process.

    Returns the lock (the same object again if this process holds it already), or None
    for ranks other than 0 and on file systems without ``flock`` (a warning is logged).
    Raises :class:`RunLockError` naming the other run when one holds it.
    """
    if rank != 0 or '://' in str(work_dir):
        return None
    held = _HELD.get(_key(work_dir))
    if held is not None and held.held:
        return held
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)  # no O_TRUNC: the
    try:  # holder's record stays readable until the lock is ours
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLockError(
                f'work dir {work_dir} is in use by another run ({holder}); wait for it to '
                'end or stop it (its lock goes with it, however it ends), or pass another '
                '--work-dir') from None
        os.close(fd)
        if err.errno in _UNSUPPORTED:
            print_log(
                f'cannot lock {path} ({err.strerror}): this file system has no flock; '
                'nothing stops a second run in this work dir', logger='current',
                level=logging.WARNING)
            return None
        raise
    record = json.dumps(holder_record()).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, record + b'\n', 0)
    os.fsync(fd)
    lock = RunLock(work_dir, path, fd)
    _HELD[_key(work_dir)] = lock
    return lock


def holds_run_lock(work_dir: str) -> bool:
    """Whether this process holds the run lock of ``work_dir``."""
    lock = _HELD.get(_key(work_dir))
    return lock is not None and lock.held

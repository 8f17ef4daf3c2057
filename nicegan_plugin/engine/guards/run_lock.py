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

A lock file deleted while a run holds it must not let a second run in: a new file under
the same name would be a new, free lock. So the holder also locks the work dir itself (its
directory inode, which deleting a file inside cannot replace), where the file system allows
(local disks; where it does not, e.g. NFS, only the file is locked); a run checks after
locking that the path still names the file it locked (else it locks what the path names
now); and before every checkpoint save the holder re-checks (:meth:`RunLock.verify`): a
deleted lock file is made again, and a run whose work dir or lock file another run has
taken stops without saving.

``tools/train.py`` takes the lock before the runner is built, so a refused run touches
nothing (no log folder, no clean-up); ``NICEGANCheckpointHook`` takes it again (a no-op in
the same process) before its temp-file clean-up, which guards runs started by MMagic's own
tools and by code that builds a ``Runner`` itself, and verifies it before each save,
through :class:`RunLocks` (rank 0 acts, every rank stops together on a refusal).
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
import weakref
from typing import Callable, Dict, Iterable, List, Optional

from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
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


class _Busy(Exception):
    """A lock another process holds; ``holder`` describes it."""

    def __init__(self, holder: str) -> None:
        self.holder = holder


class RunLock:
    """A held lock: the open lock file whose ``flock`` it is, and the open work dir whose
    ``flock`` it is too (``dir_fd`` -1 where the file system cannot lock directories)."""

    def __init__(self, work_dir: str, path: str, fd: int, dir_fd: int = -1) -> None:
        self.work_dir, self.path, self.fd, self.dir_fd = work_dir, path, fd, dir_fd

    @property
    def held(self) -> bool:
        return self.fd >= 0

    def release(self) -> None:
        """Unlock and close (idempotent); the file stays, naming the last holder."""
        if self.fd >= 0:
            _HELD.pop(_key(self.work_dir), None)
            for fd in (self.fd, self.dir_fd):
                if fd >= 0:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                    finally:
                        os.close(fd)
            self.fd = self.dir_fd = -1

    def verify(self) -> bool:
        """Check that this lock still guards its work dir (before a save).

        The work dir must be the folder locked (not moved away or replaced) and the lock
        file the file locked. A deleted (or replaced, unlocked) lock file is locked again
        under its name, with this run's record: returns True then (False when nothing
        changed). Raises :class:`RunLockError` when another run has taken the work dir.
        """
        if not self.held:
            return False
        if self.dir_fd >= 0 and not _names(self.work_dir, self.dir_fd):
            raise RunLockError(
                f'work dir {self.work_dir} was moved or replaced while this run held it; '
                'this run stops without saving (the folder it locked holds its files)')
        if _names(self.path, self.fd):
            return False
        try:
            fd = _lock_file(self.path)
        except _Busy as busy:
            raise RunLockError(
                f'the run lock {self.path} was deleted while this run held it, and another '
                f'run has taken work dir {self.work_dir} ({busy.holder}); this run stops '
                'without saving') from None
        _write_record(fd)
        os.close(self.fd)  # the lock of the deleted file
        self.fd = fd
        return True


#: locks this process holds, by the work dir's real path
_HELD: Dict[str, RunLock] = {}


def _key(work_dir: str) -> str:
    return osp.realpath(work_dir)


def _close_in_child() -> None:
    """A forked child (a DataLoader worker) closes its copies of the lock files: the lock
    belongs to the run's main process, and closing a copy does not release it."""
    for lock in list(_HELD.values()):
        for fd in (lock.fd, lock.dir_fd):
            try:
                if fd >= 0:
                    os.close(fd)
            except OSError:
                pass
        lock.fd = lock.dir_fd = -1
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


def _read_holder(path: str, wait: float = 2.0) -> str:
    """The holder's record; it writes it right after locking, so wait a moment for it."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with open(path, 'rb') as f:
                text = f.read(1 << 16).decode('utf-8', 'replace').strip()
        except FileNotFoundError:
            text = None
        if text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if text is None:
        return (f'its lock file {LOCK_NAME} was deleted; the run writes it again before '
                'its next checkpoint')
    return describe_holder(text)


def _names(path: str, fd: int) -> bool:
    """Whether ``path`` names the file (or folder) open as ``fd``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _is_busy(err: OSError) -> bool:
    return err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


def _lock_dir(work_dir: str) -> int:
    """``work_dir`` open and exclusively flock-ed, or -1 where the file system cannot
    lock a directory (NFS emulates flock with write locks, which need a file open for
    writing). Raises :class:`_Busy` when another run holds it."""
    fd = os.open(work_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if _is_busy(err):
            raise _Busy(_read_holder(osp.join(work_dir, LOCK_NAME))) from None
        if err.errno in _UNSUPPORTED + (errno.EBADF,):
            return -1
        raise
    return fd


def _lock_file(path: str) -> int:
    """``path`` (created if needed) open and exclusively flock-ed, checked to be the file
    ``path`` still names: one deleted or replaced between our open and our flock is left
    for the one the path names now. Raises :class:`_Busy` naming the holder, or the
    ``OSError`` of a file system without flock."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)  # no O_TRUNC: the
        try:  # holder's record stays readable until the lock is ours
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if _is_busy(err):
                raise _Busy(_read_holder(path)) from None
            raise
        if _names(path, fd):
            return fd
        os.close(fd)


def _write_record(fd: int) -> None:
    record = json.dumps(holder_record()).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, record + b'\n', 0)
    os.fsync(fd)


def _in_use(work_dir: str, holder: str) -> RunLockError:
    return RunLockError(
        f'work dir {work_dir} is in use by another run ({holder}); wait for it to end or stop '
        'it (its lock goes with it, however it ends), or pass another --work-dir')


def acquire_run_lock(work_dir: str, rank: int = 0) -> Optional[RunLock]:
    """Take the run lock of ``work_dir`` (created if needed) for this process.

    Returns the lock (the same object again, verified, if this process holds it already),
    or None for ranks other than 0 and on file systems without ``flock`` (a warning is
    logged). Raises :class:`RunLockError` naming the other run when one holds it.
    """
    if rank != 0 or '://' in str(work_dir):
        return None
    held = _HELD.get(_key(work_dir))
    if held is not None and held.held:
        held.verify()
        return held
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_NAME)
    dir_fd = -1
    try:
        dir_fd = _lock_dir(work_dir)
        fd = _lock_file(path)
    except _Busy as busy:
        if dir_fd >= 0:
            os.close(dir_fd)
        raise _in_use(work_dir, busy.holder) from None
    except OSError as err:
        if dir_fd >= 0:
            os.close(dir_fd)
        if err.errno in _UNSUPPORTED:
            print_log(
                f'cannot lock {path} ({err.strerror}): this file system has no flock; '
                'nothing stops a second run in this work dir', logger='current',
                level=logging.WARNING)
            return None
        raise
    _write_record(fd)
    lock = RunLock(work_dir, path, fd, dir_fd)
    _HELD[_key(work_dir)] = lock
    return lock


def verify_run_lock(work_dir: str) -> bool:
    """:meth:`RunLock.verify` of the lock this process holds on ``work_dir`` (False if it
    holds none: other ranks, file systems without flock)."""
    lock = _HELD.get(_key(work_dir))
    return lock.verify() if lock is not None else False


def holds_run_lock(work_dir: str) -> bool:
    """Whether this process holds the run lock of ``work_dir``."""
    lock = _HELD.get(_key(work_dir))
    return lock is not None and lock.held


def on_rank0_for_all(action: Callable[[], None]) -> None:
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


class RunLocks:
    """The run locks one owner (the checkpoint hook) takes for a runner's folders: taken and
    verified on rank 0, every rank stopping together when another run holds one
    (:func:`on_rank0_for_all`), released by :meth:`release` or when the runner is freed.
    Locks this process held already (``tools/train.py`` takes them first) stay their
    taker's."""

    def __init__(self) -> None:
        self.taken: List[RunLock] = []

    def take(self, runner, folders: Iterable[str]) -> None:
        """Take the run lock of each of ``folders`` (:func:`acquire_run_lock`)."""
        def take() -> None:
            for folder in folders:
                had = holds_run_lock(folder)
                lock = acquire_run_lock(folder)
                if lock is not None and not had:
                    self.taken.append(lock)
                    weakref.finalize(runner, lock.release)
        on_rank0_for_all(take)

    def verify(self, runner, folders: Iterable[str]) -> None:
        """Before a save: the locks held on rank 0 still guard ``folders``
        (:func:`verify_run_lock`: a deleted lock file is made again, with a warning; a work
        dir another run has taken stops every rank before anything is written)."""
        def verify() -> None:
            for folder in folders:
                if verify_run_lock(folder):
                    runner.logger.warning(f'the run lock of {folder} was deleted while this '
                                          'run held it; locked and written again')
        on_rank0_for_all(verify)

    def release(self) -> None:
        """Release the locks taken here (idempotent)."""
        while self.taken:
            self.taken.pop().release()

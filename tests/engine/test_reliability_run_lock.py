"""One run per work dir: runs started at the same moment or later are refused, naming the
run that holds it, also when its lock file was deleted; the lock goes with its process
however it ends; temp files are removed only under it; a run re-checks its lock before each
save; a two-node run is one run; workers end when their launcher is killed.

Processes are started here and killed here (by pid, at the end of each test, also when it
fails); every wait is bounded.
"""
import json
import multiprocessing
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import time

import pytest

from nicegan_plugin.engine.guards import run_lock
from nicegan_plugin.engine.guards.run_lock import (
    LOCK_NAME,
    RunLockError,
    acquire_run_lock,
    holds_run_lock,
    verify_run_lock,
)

pytestmark = pytest.mark.usefixtures('data_check_cache')
FORK = multiprocessing.get_context('fork')


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """``condition()``'s first truthy value, polled until ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f'timed out after {timeout:.0f} s waiting for {what}')


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped, counts as ended)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def parent_of(pid: int) -> int:
    with open(f'/proc/{pid}/stat') as f:
        return int(f.read().rsplit(')', 1)[1].split()[1])


def lock_record(work) -> dict:
    try:
        with open(osp.join(work, LOCK_NAME)) as f:
            return json.loads(f.read() or 'null') or {}
    except (OSError, ValueError):
        return {}


@pytest.fixture
def own_processes(tmp_path):
    """At the end: kill (by pid) every process still running whose command line names
    this test's tmp_path: the tools, launchers and workers the test started."""
    yield
    mark = str(tmp_path)
    for name in os.listdir('/proc'):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f'/proc/{name}/cmdline', 'rb') as f:
                    cmdline = f.read().decode(errors='replace')
            except OSError:
                continue
            if mark in cmdline:
                try:
                    os.kill(int(name), signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _hold(work: str, conn) -> None:
    """Forked child: take the run lock of ``work``, say so, and keep it until killed."""
    acquire_run_lock(work)
    conn.send(os.getpid())
    time.sleep(600)


def _contend(work: str, start: float, conn) -> None:
    """Forked child: try the lock at the wall-clock time ``start``; hold a win 2 s."""
    time.sleep(max(0.0, start - time.time()))
    try:
        acquire_run_lock(work)
        conn.send(('won', os.getpid()))
        time.sleep(2)
    except RunLockError as err:
        conn.send(('refused', str(err)))


def test_runs_started_at_the_same_moment_one_wins(tmp_path):
    work = str(tmp_path / 'work')
    start = time.time() + 1.0
    pipes, procs = [], []
    for _ in range(4):
        parent, child = FORK.Pipe()
        procs.append(FORK.Process(target=_contend, args=(work, start, child)))
        procs[-1].start()
        pipes.append(parent)
    try:
        results = [p.recv() if p.poll(30) else ('silent', None) for p in pipes]
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    won = [pid for what, pid in results if what == 'won']
    assert len(won) == 1, results
    refused = [msg for what, msg in results if what == 'refused']
    assert len(refused) == 3, results
    host = socket.gethostname()
    for msg in refused:
        assert msg.startswith(f'work dir {work} is in use by another run (pid {won[0]} on host '
                              f'{host}, started '), msg
        assert 'command: ' in msg and '\n' not in msg, msg


def _hold_then_verify(work: str, conn) -> None:
    """Forked child: take the run lock of ``work``, say so; on each message, verify it
    (as a save does) and send the result; keep it until killed."""
    acquire_run_lock(work)
    conn.send(os.getpid())
    while True:
        conn.recv()
        try:
            conn.send(('verified', verify_run_lock(work)))
        except RunLockError as err:
            conn.send(('error', str(err)))


def _hold_file_only(work: str, conn) -> None:
    """Forked child: a run on a file system that cannot lock directories (NFS): it takes
    only the lock file."""
    run_lock._lock_dir = lambda work_dir: -1
    try:
        acquire_run_lock(work)
        conn.send(('won', os.getpid()))
    except RunLockError as err:
        conn.send(('refused', str(err)))
    time.sleep(600)


def test_deleted_lock_file_still_refuses_a_second_run(tmp_path):
    """Deleting the lock file of a live run does not free the work dir: a second run is
    refused (the holder also locks the folder); the holder's next save makes the file
    again, and later refusals name it."""
    work = str(tmp_path / 'work')
    parent, child = FORK.Pipe()
    holder = FORK.Process(target=_hold_then_verify, args=(work, child))
    holder.start()
    try:
        assert parent.poll(30), 'the holder did not take the lock'
        holder_pid = parent.recv()
        os.remove(osp.join(work, LOCK_NAME))
        with pytest.raises(RunLockError) as info:
            acquire_run_lock(work)
        msg = str(info.value)
        assert msg.startswith(f'work dir {work} is in use by another run (its lock file '
                              f'{LOCK_NAME} was deleted; '), msg
        assert not osp.exists(osp.join(work, LOCK_NAME))  # the refused run made nothing
        parent.send('save')
        assert parent.poll(30) and parent.recv() == ('verified', True)  # made again
        assert lock_record(work)['pid'] == holder_pid
        with pytest.raises(RunLockError, match=rf'in use by another run \(pid {holder_pid} '):
            acquire_run_lock(work)
        parent.send('save')
        assert parent.poll(30) and parent.recv() == ('verified', False)  # nothing changed
    finally:
        holder.kill()
        holder.join(10)
    lock = acquire_run_lock(work)  # free again once the holder is gone
    assert lock is not None
    lock.release()


def test_lock_file_taken_by_another_run_stops_the_holder_before_it_saves(
        tmp_path, make_photo_set, make_tiny_runner):
    """Where folders cannot be locked (NFS), a second run can take a new lock file made
    after the holder's was deleted: the holder then stops at its next save, naming it,
    and writes no checkpoint. Where it was only deleted, the save makes it again."""
    from mmengine.hooks import Hook
    photos = make_photo_set(str(tmp_path / 'photos'), n_train=2, n_test=1)
    path = tmp_path / 'work' / LOCK_NAME
    others = []

    class DeleteLockFile(Hook):
        priority = 'NORMAL'  # before the checkpoint hook (VERY_LOW) saves

        def __init__(self, second_run: bool) -> None:
            self.second_run, self.seen = second_run, []

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.seen.append(path.exists())
            path.unlink()
            if self.second_run:
                parent, child = FORK.Pipe()
                others.append(FORK.Process(target=_hold_file_only,
                                           args=(str(path.parent), child)))
                others[-1].start()
                assert parent.poll(30)
                self.answer = parent.recv()

    options = {'train_cfg.max_iters': 2, 'default_hooks.checkpoint.interval': 1}
    runner = make_tiny_runner(tmp_path / 'work', photos, **options)
    deleter = DeleteLockFile(second_run=False)
    runner.register_hook(deleter)
    runner.train()
    assert deleter.seen == [True, True]  # iteration 1's save made it again
    assert (tmp_path / 'work' / 'iter_2.pth').is_file() and path.exists()
    assert lock_record(tmp_path / 'work')['pid'] == os.getpid()

    runner = make_tiny_runner(tmp_path / 'work2', photos, **options)
    path = tmp_path / 'work2' / LOCK_NAME
    deleter = DeleteLockFile(second_run=True)
    runner.register_hook(deleter)
    try:
        with pytest.raises(RunLockError) as info:
            runner.train()
        what, other_pid = deleter.answer
        assert what == 'won'  # nothing stopped it from starting
        assert str(info.value).startswith(
            f'the run lock {path} was deleted while this run held it, and another run has '
            f'taken work dir {tmp_path / "work2"} (pid {other_pid} on host '), info.value
        assert not list((tmp_path / 'work2').glob('iter_*.pth'))
    finally:
        for proc in others:
            proc.kill()
            proc.join(10)


def test_hook_refuses_a_held_work_dir_and_cleans_only_under_the_lock(
        tmp_path, make_photo_set, make_tiny_runner):
    """A runner built without tools/train.py (MMagic's tools, user code) is stopped by the
    checkpoint hook before its clean-up deletes the other run's in-flight temp file; the
    lock goes with its holder when that is killed, and the next run takes it."""
    photos = make_photo_set(str(tmp_path / 'photos'))
    work = tmp_path / 'work'
    work.mkdir()
    in_flight = work / '.iter_2.pth.tmp-a1b2c3'  # the running job's save
    in_flight.write_bytes(b'\0' * 1024)
    parent, child = FORK.Pipe()
    holder = FORK.Process(target=_hold, args=(str(work), child))
    holder.start()
    try:
        assert parent.poll(30), 'the holder did not take the lock'
        holder_pid = parent.recv()
        options = {'train_cfg.max_iters': 1, 'default_hooks.checkpoint.interval': 1}
        with pytest.raises(RunLockError) as info:
            make_tiny_runner(work, photos, **options).train()
        assert str(info.value).startswith(
            f'work dir {work} is in use by another run (pid {holder_pid} on host '
            f'{socket.gethostname()}, started ')
        assert in_flight.exists(), "the refused run deleted the other run's temp file"
        assert not list(work.glob('iter_*.pth'))
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs; the kernel drops the lock
        holder.join(10)
    runner = make_tiny_runner(work, photos, **options)
    runner.train()
    assert not in_flight.exists()  # an interrupted save's leftover, now removed
    assert (work / 'iter_1.pth').is_file()
    assert lock_record(work)['pid'] == os.getpid()
    assert not holds_run_lock(str(work))  # released after the run


def test_two_node_run_is_one_run_and_ends_with_its_launcher(
        tmp_path, make_photo_set, data_root_args, tiny_config, project_root, own_processes):
    """``NNODES=2 tools/dist_train.sh`` on one machine (one worker per node): rank 0 alone
    holds the lock and both ranks train; a second run in the work dir is refused by its
    rank 0 in one line (no torchrun report) before it touches anything; ``kill -9`` of node
    0's launcher ends its worker within seconds, then node 1; the lock is free again."""
    photos = make_photo_set(str(tmp_path / 'photos'), n_train=2, n_test=1)
    work = tmp_path / 'work'
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    args = [tiny_config, '1', '--work-dir', str(work), '--cfg-options',
            *data_root_args(photos), 'train_cfg.max_iters=100000',
            'default_hooks.checkpoint.interval=100000', 'default_hooks.logger.interval=1']
    nodes = []
    for rank in (0, 1):
        env = dict(os.environ, NNODES='2', NODE_RANK=str(rank), PORT=str(port))
        with open(tmp_path / f'node{rank}.err', 'w') as err:
            nodes.append(subprocess.Popen(['bash', 'tools/dist_train.sh', *args], cwd=project_root,
                                          env=env, stdout=subprocess.DEVNULL, stderr=err))
    record = wait_for(lambda: lock_record(work), 300, 'the run lock record')
    worker0 = record['pid']
    assert '--launcher pytorch' in record['command']
    assert nodes[0].pid in (parent_of(worker0), parent_of(parent_of(worker0)))  # node 0's

    # meanwhile a second run in the same work dir (started while the first one is starting)
    with open(tmp_path / 'second.err', 'w') as err:
        second = subprocess.Popen(
            ['bash', 'tools/dist_train.sh', tiny_config, '1', '--work-dir', str(work),
             '--cfg-options', *data_root_args(photos)], cwd=project_root,
            stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ, PORT=str(port + 1)))

    def logs() -> str:
        return ''.join(open(p).read() for p in work.glob('*/*.log'))
    wait_for(lambda: re.search(r'Iter\(train\) \[\s*1/', logs()), 300,
             'the first iteration of both ranks')
    assert lock_record(work)['pid'] == worker0  # rank 1 took nothing
    assert second.wait(timeout=300) == 1
    text = (tmp_path / 'second.err').read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[-2].startswith(f'error: work dir {work} is in use by another run (pid {worker0} '
                                f'on host {socket.gethostname()}, started '), lines
    assert lines[-1].startswith('error: distributed run stopped: rank 0 (pid '), lines
    assert sum(line.startswith('error:') for line in lines) == 2, lines
    assert 'Traceback' not in text and 'ChildFailedError' not in text, text
    assert len(list(work.glob('20*'))) == 1  # refused before it touched anything

    agent0 = parent_of(worker0)
    os.kill(agent0, signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: not alive(worker0), 30, 'the worker of the killed launcher to end')
    assert time.monotonic() - killed < 10
    assert f'the launcher of this worker (pid {agent0}) is gone' in \
        (tmp_path / 'node0.err').read_text()
    assert nodes[1].wait(timeout=120) != 0  # node 1 loses its peer and stops too
    nodes[0].wait(timeout=30)
    lock = acquire_run_lock(str(work))  # a --resume can start now
    assert lock is not None
    lock.release()

"""Workers of a distributed run end within seconds when their launcher dies.

When the ``torchrun`` agent is killed (``kill -9``, an OOM kill, a closed terminal with
the agent in it), its workers are re-parented and train on, unseen: they hold the run lock
and write checkpoints while a ``--resume`` of the same run is started next to them.
:func:`watch_launcher` starts a daemon thread that compares ``os.getppid()`` with the
parent the worker started with, once a second; when it changes (to 1 or to a subreaper),
the worker says so on stderr and ends at once with ``os._exit``: its main thread may be
blocked in a collective that never returns once the peers are gone, and checkpoints are
written atomically, so nothing half-written is left (a temp file at most, removed by the
next run under the run lock).

Why polling and not ``prctl(PR_SET_PDEATHSIG)``: the death signal fires when the parent
*thread* that forked the worker exits, not the parent process, so a launcher that starts
workers from a helper thread kills them by mistake; it is Linux-only, needs ``ctypes``,
races with a parent that died before the call, and ends the worker without a word. The
thread costs one ``getppid`` call a second.
"""
import os
import sys
import threading
import time
from typing import Optional

#: seconds between two checks of the parent
INTERVAL = 1.0
_watching: Optional[threading.Thread] = None


def _watch(parent: int, interval: float, rank: str) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            sys.stderr.write(
                f'error: rank {rank}: the launcher of this worker (pid {parent}) is gone; '
                'stopping (resume later with tools/train.py --resume)\n')
            sys.stderr.flush()
            os._exit(1)


def watch_launcher(interval: float = INTERVAL) -> threading.Thread:
    """Start the watchdog thread (once per process; see the module doc) and return it."""
    global _watching
    if _watching is None or not _watching.is_alive():
        rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '?'))
        _watching = threading.Thread(target=_watch, args=(os.getppid(), interval, rank),
                                     name='nicegan-launcher-watch', daemon=True)
        _watching.start()
    return _watching

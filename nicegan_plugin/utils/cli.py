"""What every tool does around its ``main``: one-line errors, quiet third-party imports.

``run_cli(main)`` (the last line of each ``tools/*.py``):

- one way out: ``main()`` returns (None or a result: status 0) or raises. A tool never
  calls ``sys.exit``, raises ``SystemExit`` or prints its own ``error:`` line:

  - :class:`UsageError` (the arguments do not fit together, or name inputs that do not
    exist or do not fit): ``error: <message>`` on stderr, exit status 2, argparse's
    usage status;
  - :class:`ToolError` (an expected failure the tool states in full, e.g. a verification
    or a check that failed): ``error: <message>``, exit status 1;
  - any other exception: ``error: <one line>`` (:func:`error_line`) and exit status 1;
    the traceback goes to the run's log file when MMEngine opened one (the line says
    where) and to stderr only with ``--debug`` (taken out of ``sys.argv`` before
    ``main`` parses it, so every tool accepts it);
  - Ctrl-C: ``error: interrupted``, exit status 130; argparse's own errors keep theirs;
- import-time notices of third-party packages that are not about the tool (diffusers,
  timm and controlnet_aux deprecations and registry overwrites, MMagic's dataset
  ``metainfo`` notice, MMEngine's thread-count notices) are not shown, unless ``--debug``;
- in a distributed run (``RANK``/``WORLD_SIZE`` set by the launcher) the error line is
  printed once: a rank other than 0 waits :data:`RANK_ERROR_GRACE` seconds first, and
  when rank 0 fails too, the launcher ends it before then (torchrun stops every worker
  at the first failure); an error of that rank alone still gets its line, ``[rank N]``.
"""
import logging
import os
import sys
import time
import traceback
import warnings
from typing import Any, Callable

#: seconds a rank other than 0 waits before printing its error line (see the module doc)
RANK_ERROR_GRACE = 3.0
_debug = False


class ToolError(Exception):
    """A failure a tool states in one line: ``error: <message>``, exit status 1 (no
    traceback: the message is the whole story)."""

    status = 1


class UsageError(ToolError):
    """Arguments that do not fit (together, or with the inputs they name):
    ``error: <message>``, exit status 2 (argparse's usage status)."""

    status = 2


#: (category, message regex, module regex) of warnings hidden in the tools' output
QUIET_WARNINGS = (
    (FutureWarning, '', r'(timm|diffusers|transformers|huggingface_hub|controlnet_aux|mmagic)'),
    (DeprecationWarning, '', ''),
    (UserWarning, r"The module 'mediapipe' is not installed", ''),
    (UserWarning, r'Overwriting .* in registry', ''),
    (UserWarning, r'Dataset .* has no metainfo', ''),
    (UserWarning, r'Setting (OMP|MKL)_NUM_THREADS environment variable', ''),
    # MMEngine finds a read_base() config's package with pkg_resources (setuptools < 82)
    (UserWarning, r'pkg_resources is deprecated', ''),
)


def debug_mode() -> bool:
    """Whether the tool runs with ``--debug`` (set by :func:`run_cli`)."""
    return _debug


def _rank() -> int:
    """This process's global rank in a distributed run, else 0."""
    rank, world = os.environ.get('RANK', '0'), os.environ.get('WORLD_SIZE', '1')
    return int(rank) if rank.isdigit() and world.isdigit() and int(world) > 1 else 0


def quiet_third_party_warnings() -> None:
    """Hide the warnings of :data:`QUIET_WARNINGS` from now on."""
    for category, message, module in QUIET_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category, module=module)


def error_line(err: BaseException) -> str:
    """``err`` as one line: its own message for the plugin's and the usual input errors,
    else ``Type: message``; for an error re-raised from a DataLoader worker, the
    worker's original message."""
    text = str(err).strip()
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if 'Original Traceback' in text and lines:  # torch's ExceptionWrapper.reraise
        last = lines[-1]
        head, sep, rest = last.partition(': ')
        text = rest if sep and head.split('.')[-1] == type(err).__name__ else last
    else:
        text = lines[0] if lines else ''
    own = type(err).__module__.startswith('nicegan_plugin') or isinstance(
        err, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError))
    return text if own and text else f'{type(err).__name__}: {text}'.rstrip(': ')


def _log_files() -> list:
    """Files the current MMEngine logger writes to (the run's ``.log``)."""
    try:
        from mmengine.logging import MMLogger
        logger = MMLogger.get_current_instance()
    except Exception:  # noqa: BLE001 (no logger: no log file)
        return []
    return [h.baseFilename for h in logger.handlers if isinstance(h, logging.FileHandler)]


def _say(line: str, rank: int) -> None:
    """Print an error line; a rank other than 0 waits first (see the module doc)."""
    if rank:  # rank 0 says it, unless the error is this rank's alone
        time.sleep(RANK_ERROR_GRACE)
    print(f'error: {f"[rank {rank}] " if rank else ""}{line}', file=sys.stderr)


def run_cli(main: Callable[[], Any]) -> None:
    """Run a tool's ``main()`` and exit (see the module doc): status 0 when it returns."""
    global _debug
    debug = _debug = '--debug' in sys.argv[1:]
    if debug:
        sys.argv = [sys.argv[0]] + [a for a in sys.argv[1:] if a != '--debug']
    else:
        quiet_third_party_warnings()
    try:
        main()
    except KeyboardInterrupt:
        print('error: interrupted', file=sys.stderr)
        sys.exit(130)
    except ToolError as err:
        if debug:
            sys.stderr.write(traceback.format_exc())
        _say(str(err), _rank())
        sys.exit(err.status)
    except Exception as err:  # noqa: BLE001 (the tool's last word on any error)
        trace = traceback.format_exc()
        files = _log_files()
        for path in files:
            with open(path, 'a') as f:
                f.write(trace)
        if debug:
            sys.stderr.write(trace)
        where = f' (traceback in {files[0]})' if files and not debug else \
            '' if debug else ' (--debug shows the traceback)'
        _say(f'{error_line(err)}{where}', _rank())
        sys.exit(1)
    sys.exit(0)

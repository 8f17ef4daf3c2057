"""``--resume`` semantics a user can trust: what to resume from, and never writing over work.

MMEngine's auto-resume reads ``<work_dir>/last_checkpoint`` as-is (an absolute path, so a
copied work dir resumes from the original's files; an empty file fails with "can not be
found") and, when there is none, silently trains from scratch, writing over the
``iter_*.pth`` already there. Here:

- :func:`find_resumable_checkpoint`: ``last_checkpoint`` is read relative to the work dir
  (absolute paths of older runs are mapped into the work dir when the file is there) and
  validated; if it is missing, empty or names no file, the newest ``iter_N.pth`` is used.
- :func:`resolve_resume`: ``--resume`` with nothing to resume stops with a message;
  ``--resume auto-or-new`` starts a new run then.
- :func:`checkpoints_after`: the checkpoints a run starting at some iteration would write
  over; :func:`refuse_overwrite` stops such a run (``NICEGANCheckpointHook`` calls it).
- :func:`auto_resume`: MMEngine's ``resume=True`` resumes from
  :func:`find_resumable_checkpoint` (the checkpoint hook calls it before the Runner resumes).
- :func:`write_last_checkpoint`: ``last_checkpoint`` written atomically, relative to the work
  dir, the way :func:`read_last_checkpoint` reads it.
"""
import logging
import os
import os.path as osp
import re
from typing import Dict, Optional, Tuple

from mmengine.logging import print_log

from ...utils.fileio import atomic_write

LAST_CHECKPOINT = 'last_checkpoint'
#: the value of ``--resume`` that starts a new run when nothing can be resumed
AUTO_OR_NEW = 'auto-or-new'


class ResumeError(ValueError):
    """Nothing to resume from, or a run would write over existing checkpoints."""


def checkpoint_steps(folder: str, filename_tmpl: str = 'iter_{}.pth') -> Dict[int, str]:
    """``{step: path}`` of the checkpoints named like ``filename_tmpl`` in ``folder``."""
    if not osp.isdir(folder):
        return {}
    head, _, tail = filename_tmpl.partition('{}')
    pattern = re.compile(re.escape(head) + r'(\d+)' + re.escape(tail) + '$')
    found = {}
    for name in os.listdir(folder):
        match = pattern.match(name)
        if match and osp.isfile(osp.join(folder, name)):
            found[int(match.group(1))] = osp.join(folder, name)
    return found


def checkpoints_after(folder: str, start_iter: int,
                      filename_tmpl: str = 'iter_{}.pth') -> Dict[int, str]:
    """Checkpoints in ``folder`` of steps after ``start_iter``: a run that starts at
    ``start_iter`` would write over them."""
    return {s: p for s, p in sorted(checkpoint_steps(folder, filename_tmpl).items())
            if s > start_iter}


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``<work_dir>/last_checkpoint`` names, resolved and validated, else None.

    A relative path is relative to ``work_dir``. An absolute path whose file name exists in
    ``work_dir`` resolves to that file (a copied or moved work dir resumes from its own
    files, not the original's). Returns None, with a log line saying why, when the file is
    absent or empty or names no non-empty file.
    """
    record = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(record):
        return None
    with open(record) as f:
        named = f.read().strip()
    if not named:
        print_log(f'{record} is empty; ignoring it', logger='current', level=logging.WARNING)
        return None
    candidates = [osp.join(work_dir, named)] if not osp.isabs(named) else \
        [osp.join(work_dir, osp.basename(named)), named]
    for path in candidates:
        if osp.isfile(path) and osp.getsize(path) > 0:
            return osp.abspath(path)
    print_log(f'{record} names {named!r}, which is not a checkpoint file here; ignoring it',
              logger='current', level=logging.WARNING)
    return None


def find_resumable_checkpoint(work_dir: str,
                              filename_tmpl: str = 'iter_{}.pth') -> Optional[str]:
    """The checkpoint to resume a run in ``work_dir`` from: what ``last_checkpoint`` names
    (see :func:`read_last_checkpoint`), else the newest non-empty ``iter_N.pth``, else None."""
    path = read_last_checkpoint(work_dir)
    if path is not None:
        return path
    steps = {s: p for s, p in checkpoint_steps(work_dir, filename_tmpl).items()
             if osp.getsize(p) > 0}
    if steps:
        newest = steps[max(steps)]
        print_log(f'no usable {LAST_CHECKPOINT} in {work_dir}; resuming from the newest '
                  f'checkpoint there, {osp.basename(newest)}', logger='current',
                  level=logging.WARNING)
        return osp.abspath(newest)
    return None


def resolve_resume(work_dir: str, resume: Optional[str]) -> Tuple[bool, Optional[str]]:
    """``(cfg.resume, cfg.load_from)`` for a ``--resume`` argument.

    ``None``: a new run. ``'auto'`` (plain ``--resume``): the checkpoint of
    :func:`find_resumable_checkpoint`, or :class:`ResumeError` if there is none.
    ``'auto-or-new'``: the same, or a new run if there is none. Anything else is a
    checkpoint path, which must exist.
    """
    if resume is None:
        return False, None
    if resume in ('auto', AUTO_OR_NEW):
        path = find_resumable_checkpoint(work_dir)
        if path is not None:
            return True, path
        if resume == AUTO_OR_NEW:
            return False, None
        raise ResumeError(
            f'--resume: nothing to resume in {work_dir} (no last_checkpoint, no iter_*.pth); '
            f'drop --resume to start a new run, pass --resume {AUTO_OR_NEW} to start one '
            'when there is nothing to resume, or --resume PATH for a given checkpoint')
    if not osp.isfile(resume):
        raise ResumeError(f'--resume checkpoint not found: {resume}')
    return True, resume


def auto_resume(runner, filename_tmpl: str = 'iter_{}.pth') -> None:
    """MMEngine's auto-resume (``resume=True``, no ``load_from``) made safe: the runner
    resumes from :func:`find_resumable_checkpoint`, or starts a new run when there is none
    (MMEngine's meaning of ``resume=True``; ``tools/train.py --resume`` stops instead).

    Call it before ``Runner.load_or_resume`` (a hook's ``before_run``), which reads
    ``last_checkpoint`` as it is. Sets the Runner's private ``_load_from``/``_resume``:
    MMEngine has no public way to change them once the Runner is built."""
    if runner._resume and runner._load_from is None:
        runner._load_from = find_resumable_checkpoint(runner.work_dir, filename_tmpl)
        if runner._load_from is None:
            runner.logger.warning(f'resume=True, but {runner.work_dir} holds no checkpoint '
                                  '(no last_checkpoint, no iter_N.pth): a new run starts')
            runner._resume = False


def refuse_overwrite(runner, out_dir: str, by_epoch: bool,
                     filename_tmpl: str = 'iter_{}.pth') -> None:
    """Raise :class:`ResumeError` when ``out_dir`` holds checkpoints beyond the step the run
    starts at (:func:`checkpoints_after`): it would write over them. A resumed run is told to
    resume from the newest; a new one to resume, move them away or use another work dir."""
    unit, start = ('epoch', runner.epoch) if by_epoch else ('iteration', runner.iter)
    later = checkpoints_after(out_dir, start, filename_tmpl)
    if not later:
        return
    names = ', '.join(osp.basename(p) for p in list(later.values())[:4]) + \
        (f' (+{len(later) - 4} more)' if len(later) > 4 else '')
    if runner._resume:  # resumed from an older checkpoint than the newest (a stale
        newest = later[max(later)]  # last_checkpoint, or an old PATH)
        raise ResumeError(
            f'{out_dir} holds {names}, beyond {unit} {start} of {runner._load_from}, which '
            f'this run resumed from: it would write over them; resume from the newest with '
            f'--resume {newest}, or move the newer ones away to continue from {start}')
    raise ResumeError(
        f'{out_dir} already holds {names}, beyond {unit} {start} where this run starts: it '
        'would write over them; resume the run that wrote them (--resume), move them away, '
        'or use another --work-dir')


def write_last_checkpoint(work_dir: str, checkpoint: str) -> None:
    """Write ``<work_dir>/last_checkpoint`` atomically, naming ``checkpoint`` relative to the
    work dir (a copied work dir resumes from its own files; :func:`read_last_checkpoint`
    reads it back); a URL is written as it is."""
    if '://' not in checkpoint:
        checkpoint = osp.relpath(checkpoint, work_dir)
    atomic_write(osp.join(work_dir, LAST_CHECKPOINT), checkpoint)

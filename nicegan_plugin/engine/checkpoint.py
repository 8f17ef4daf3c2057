"""Checkpoint I/O: atomic writes for training checkpoints and strict validation on load.

- :class:`AtomicLocalBackend` (MMEngine file backend ``'nicegan_atomic_local'``) and
  :class:`NICEGANCheckpointHook`: MMEngine's local backend writes checkpoints in place, so
  a crash mid-write leaves a truncated ``iter_N.pth`` that ``last_checkpoint`` points at.
  The hook saves through the atomic backend and writes ``last_checkpoint`` atomically;
  nothing else in the process changes how it writes files.
  The hook also refuses to save non-finite weights, writes ``last_checkpoint`` relative
  to the work dir, removes temp files of interrupted saves at the start, and refuses to
  start a run that would write over checkpoints of another run (:mod:`.resume`).
- :func:`read_state_dict` / :func:`check_state_dict`: MMEngine loads ``load_from`` and
  ``resume`` checkpoints non-strictly, so a checkpoint of other domains or another
  architecture only logs warnings; the tools check keys and shapes first. Checkpoints
  with non-finite weights and files that are not weights-only checkpoints are refused.
"""
import os.path as osp
import re
import warnings
from typing import Any, Dict, Iterable, List, Union

import torch
import torch.nn as nn
from mmagic.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from ..official.constants import OFFICIAL_NETS, THOP_SUFFIXES
from ..utils.fileio import atomic_write, remove_stale_temp_files
from ..utils.model_utils import unwrap
from .nonfinite import NonFiniteCheckpointError, NonFiniteError, nonfinite_tensors
from .resume import ResumeError, checkpoints_after, find_resumable_checkpoint

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


@HOOKS.register_module()
class NICEGANCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` writing checkpoints and ``last_checkpoint`` atomically.

    Takes every argument of ``CheckpointHook``. For a local ``out_dir`` with no
    ``backend_args``, checkpoints go through :class:`AtomicLocalBackend`. Besides:

    - ``before_run``: an auto-resume (``resume=True``, no ``load_from``) takes the
      checkpoint of :func:`.resume.find_resumable_checkpoint` (``last_checkpoint`` relative
      to the work dir and validated), or starts a new run if there is none;
    - ``before_train``: temp files of interrupted saves are removed, and a run that would
      write over checkpoints beyond its start iteration (another run's) stops;
    - every save: weights holding a NaN/Inf stop the run instead of being saved;
      ``last_checkpoint`` is written relative to the work dir.
    """

    def __init__(self, *args, **kwargs) -> None:
        out_dir = kwargs.get('out_dir')
        if kwargs.get('backend_args') is None and kwargs.get('file_client_args') is None \
                and (out_dir is None or '://' not in str(out_dir)):
            kwargs['backend_args'] = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, **kwargs)

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

    def before_train(self, runner) -> None:
        super().before_train(runner)
        local = '://' not in str(self.out_dir)
        if not local:
            return
        if is_main_process():
            for folder in {self.out_dir, runner.work_dir}:
                for path in remove_stale_temp_files(folder):
                    runner.logger.info(f'removed {path} (temp file of an interrupted save)')
        unit, start = ('epoch', runner.epoch) if self.by_epoch else ('iteration', runner.iter)
        later = checkpoints_after(self.out_dir, start, self.filename_tmpl)
        if later:
            names = ', '.join(osp.basename(p) for p in list(later.values())[:4]) + \
                (f' (+{len(later) - 4} more)' if len(later) > 4 else '')
            raise ResumeError(
                f'{self.out_dir} already holds {names}, beyond {unit} {start} where this run '
                'starts: it would write over them; resume the run that wrote them (--resume), '
                'move them away, or use another --work-dir')

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
        super()._save_best_checkpoint(runner, metrics)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        self._check_finite(runner, step, self.filename_tmpl.format(step))
        super()._save_checkpoint_with_step(runner, step, meta)
        if is_main_process():  # the parent wrote last_checkpoint in place: redo it atomically,
            # relative to the work dir (a copied work dir resumes from its own files)
            last = str(self.last_ckpt)
            if '://' not in last:
                last = osp.relpath(last, runner.work_dir)
            atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), last)


class CheckpointReadError(ValueError):
    """A checkpoint file that cannot be (or must not be) loaded: one line naming it."""


def read_checkpoint(checkpoint: str) -> Any:
    """The object saved in the local file ``checkpoint``, loaded weights-only on the CPU
    (with the plugin's allow-list, :mod:`nicegan_plugin.compat`); a missing file or one
    that is not a weights-only PyTorch checkpoint raises a one-line error naming it (never
    torch's advice to unpickle it anyway)."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    try:
        with warnings.catch_warnings():
            # torch's note on files pickled with protocol > 2: the load below either
            # works or is refused with the reason, the note adds nothing
            warnings.filterwarnings('ignore', message='Detected pickle protocol')
            return torch.load(checkpoint, map_location='cpu', weights_only=True)
    except Exception as err:
        raise CheckpointReadError(
            f'cannot read checkpoint {checkpoint}: {_load_error(err)}') from err


def read_state_dict(checkpoint: str) -> Dict[str, torch.Tensor]:
    """The model weights of an mmengine-style checkpoint (``{'state_dict': ...}``) or
    of a bare state dict, on CPU; ``module.`` prefixes and thop buffers dropped.

    Raises a clear error for a missing/unreadable file and for an official
    (unconverted) NICE-GAN checkpoint.
    """
    ckpt = read_checkpoint(checkpoint)
    if not isinstance(ckpt, dict):
        raise CheckpointReadError(f'checkpoint {checkpoint} holds a {type(ckpt).__name__}, '
                                  'expected a dict with a `state_dict` key')
    if all(k in ckpt for k in OFFICIAL_NETS):
        raise CheckpointReadError(
            f'checkpoint {checkpoint} is an official NICE-GAN checkpoint (keys '
            f'{", ".join(OFFICIAL_NETS)}); convert it first with '
            'tools/convert_official_checkpoint.py')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise CheckpointReadError(
            f'checkpoint {checkpoint}: `state_dict` is missing or does not map names to '
            f'tensors (top-level keys: {sorted(ckpt)[:8]})')
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()
             if k.rsplit('.', 1)[-1] not in THOP_SUFFIXES}
    bad = nonfinite_tensors(state)
    if bad:
        raise NonFiniteCheckpointError(
            f'checkpoint {checkpoint} holds NaN/Inf weights ({len(bad)} of {len(state)} '
            f'tensors, e.g. {", ".join(bad[:3])}): the run diverged before it was saved; '
            'use an earlier checkpoint')
    return state


def _load_error(err: Exception) -> str:
    """One line on why ``torch.load(weights_only=True)`` refused a file, without torch's
    advice to unpickle it anyway (``weights_only=False`` runs whatever code it holds)."""
    text = str(err)
    if 'Weights only load failed' in text:
        reason = text.split('WeightsUnpickler error:', 1)[-1].split('Check the documentation')[0]
        reason = ' '.join(s for s in ' '.join(reason.split()).split('. ')
                          if not any(a in s for a in _TORCH_ADVICE)).strip(' .')
        reason = reason or 'it holds objects other than tensors'
        return (f'not a weights-only PyTorch checkpoint ({reason}); it is not unpickled, '
                'since unpickling can run code')
    first = text.splitlines()[0] if text else ''
    return f'truncated, or not a PyTorch checkpoint ({type(err).__name__}: {first})'


#: sentences of torch's weights-only error that advise unpickling anyway
_TORCH_ADVICE = ('Weights only load failed', 'PyTorch 2.6', 'Re-running', 'trusted source',
                 'Please file an issue')


def _domains_in(keys: Iterable[str]) -> List[str]:
    return sorted({k.split('.')[1] for k in keys if k.startswith('generators.')})


def check_state_dict(model: nn.Module, state: Dict[str, torch.Tensor], checkpoint: str) -> None:
    """Raise a ValueError naming the keys/shapes of ``state`` that do not fit ``model``."""
    own = model.state_dict()
    ck_domains, cfg_domains = _domains_in(state), _domains_in(own)
    if ck_domains and ck_domains != cfg_domains:
        raise ValueError(f'checkpoint {checkpoint} is for domains {ck_domains}, the config '
                         f'for {cfg_domains} (model.reachable_domains / default_domain)')
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}'
             for k, v in own.items() if k in state and state[k].shape != v.shape]
    problems = []
    for what, keys in (('missing keys', missing), ('unexpected keys', unexpected),
                       ('shape mismatches', wrong)):
        if keys:
            more = f' (+{len(keys) - 5} more)' if len(keys) > 5 else ''
            problems.append(f'{len(keys)} {what}: {"; ".join(keys[:5])}{more}')
    if problems:
        raise ValueError(f'checkpoint {checkpoint} does not match the config\'s model '
                         '(check base_channels / num_blocks / num_layers / light / '
                         'img_size): ' + ' | '.join(problems))

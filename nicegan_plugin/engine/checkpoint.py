"""Checkpoint I/O: atomic writes for training checkpoints and strict validation on load.

- :class:`AtomicLocalBackend` (MMEngine file backend ``'nicegan_atomic_local'``) and
  :class:`NICEGANCheckpointHook`: MMEngine's local backend writes checkpoints in place, so
  a crash mid-write leaves a truncated ``iter_N.pth`` that ``last_checkpoint`` points at.
  The hook saves through the atomic backend and writes ``last_checkpoint`` atomically;
  nothing else in the process changes how it writes files.
- :func:`read_state_dict` / :func:`check_state_dict`: MMEngine loads ``load_from`` and
  ``resume`` checkpoints non-strictly, so a checkpoint of other domains or another
  architecture only logs warnings; the tools check keys and shapes first.
"""
import os.path as osp
import re
from typing import Dict, Iterable, List, Union

import torch
import torch.nn as nn
from mmagic.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.fileio import register_backend
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook

from ..official.constants import OFFICIAL_NETS, THOP_SUFFIXES
from ..utils.fileio import atomic_write

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
    ``backend_args``, checkpoints go through :class:`AtomicLocalBackend`.
    """

    def __init__(self, *args, **kwargs) -> None:
        out_dir = kwargs.get('out_dir')
        if kwargs.get('backend_args') is None and kwargs.get('file_client_args') is None \
                and (out_dir is None or '://' not in str(out_dir)):
            kwargs['backend_args'] = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, **kwargs)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        super()._save_checkpoint_with_step(runner, step, meta)
        if is_main_process():  # the parent wrote last_checkpoint in place: redo it atomically
            atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), str(self.last_ckpt))


def read_state_dict(checkpoint: str) -> Dict[str, torch.Tensor]:
    """The model weights of an mmengine-style checkpoint (``{'state_dict': ...}``) or
    of a bare state dict, on CPU; ``module.`` prefixes and thop buffers dropped.

    Raises a clear error for a missing/unreadable file and for an official
    (unconverted) NICE-GAN checkpoint.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    from mmengine.runner.checkpoint import CheckpointLoader
    try:
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    except Exception as err:
        raise ValueError(f'cannot read checkpoint {checkpoint}: {type(err).__name__}: '
                         f'{err}') from err
    if not isinstance(ckpt, dict):
        raise ValueError(f'checkpoint {checkpoint} holds a {type(ckpt).__name__}, '
                         'expected a dict with a `state_dict` key')
    if all(k in ckpt for k in OFFICIAL_NETS):
        raise ValueError(
            f'checkpoint {checkpoint} is an official NICE-GAN checkpoint (keys '
            f'{", ".join(OFFICIAL_NETS)}); convert it first with '
            'tools/convert_official_checkpoint.py')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise ValueError(f'checkpoint {checkpoint}: `state_dict` is missing or does not '
                         f'map names to tensors (top-level keys: {sorted(ckpt)[:8]})')
    return {re.sub(r'^module\.', '', k): v for k, v in state.items()
            if k.rsplit('.', 1)[-1] not in THOP_SUFFIXES}


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

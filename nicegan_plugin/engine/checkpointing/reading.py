"""Reading checkpoints: weights-only, strictly checked, with one-line errors.

MMEngine loads ``load_from`` and ``resume`` checkpoints non-strictly, so a checkpoint of
other domains or another architecture only logs warnings; the tools check keys and
shapes first (:func:`check_state_dict`). Checkpoints with non-finite weights, official
(unconverted) checkpoints and files that are not weights-only checkpoints are refused
with a line naming the file. Saving: :mod:`.hook`.
"""
import os.path as osp
import re
import warnings
from typing import Any, Dict, Iterable, List, Tuple

import torch
import torch.nn as nn

from ...official.constants import OFFICIAL_NETS, THOP_SUFFIXES
from ..guards.nonfinite import NonFiniteCheckpointError, nonfinite_tensors


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
    return read_weights_and_meta(checkpoint)[0]


def read_weights_and_meta(checkpoint: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    """:func:`read_state_dict` and the checkpoint's ``meta`` dict (empty if none; the
    plugin's checkpoint hook records ``img_size`` there, see
    :data:`nicegan_plugin.engine.checkpointing.image_size.IMG_SIZE_KEY`)."""
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
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    return state, meta


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

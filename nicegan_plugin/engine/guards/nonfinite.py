"""Non-finite guard: a NaN/Inf loss or gradient stops training, and non-finite weights are
never saved.

GAN training can diverge to NaN (too high an lr, fp16 overflow; official NICE-GAN issue
#27). Left alone, the run goes on, the checkpoint hook saves NaN weights, ``last_checkpoint``
points at them and the translations come out black. :class:`NICEGANNonFiniteGuardHook`
checks, after every iteration and with one device sync, the logged loss terms and the
parameters the iteration updated, and stops with the iteration, what went non-finite and
the last good checkpoint; with ``max_loss`` set, a finite divergence (loss terms of 1e10)
stops it the same way. The parameters stand for the gradients: the model's step applies
and then frees its gradients (inside a CUDA graph, too), and Adam turns a NaN or Inf
gradient into a non-finite parameter in that same step. ``NICEGANCheckpointHook`` checks
the weights before each save (:func:`refuse_nonfinite_weights`), and the tools refuse
checkpoints with non-finite weights (:func:`nonfinite_tensors`).
"""
import copy
import os.path as osp
from typing import Dict, List, Mapping, Optional

import torch
from mmagic.registry import HOOKS
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

from ...utils.model_utils import unwrap
from .resume import checkpoint_steps


class NonFiniteError(RuntimeError):
    """A loss or a weight became NaN or infinite."""


class NonFiniteCheckpointError(NonFiniteError, ValueError):
    """A checkpoint to load holds NaN/Inf weights (a ValueError like every refused file)."""


def nonfinite_tensors(tensors: Mapping[str, torch.Tensor]) -> List[str]:
    """Names of the floating-point tensors of ``tensors`` holding a NaN or an Inf."""
    return [k for k, v in tensors.items()
            if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all())]


def _all_finite(values: List[torch.Tensor], bounded: List[torch.Tensor] = (),
                bound: Optional[float] = None) -> bool:
    """Whether every value is finite and every ``bounded`` one within ``[-bound, bound]``,
    on every rank (one sync; one all-reduce if distributed)."""
    flat = [v.detach().float().reshape(-1) for v in values]
    flags = [(~torch.isfinite(v)).any() for v in flat]
    if bound is not None:
        flags += [(v.detach().float().abs() > bound).any() for v in bounded]
    bad = torch.stack(flags).any().to(torch.int32) \
        if flags else torch.zeros((), dtype=torch.int32)
    if get_world_size() > 1:
        bad = bad.reshape(1).clone()
        all_reduce(bad, op='max')
    return not bool(bad.item())


def _first_six(items: List[str]) -> str:
    return ', '.join(items[:6]) + (f' (+{len(items) - 6} more)' if len(items) > 6 else '')


def _parameter_maxabs(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """max |p| of every trainable parameter (NaN if it holds a NaN, Inf if an Inf): a
    few fused kernels, no host sync."""
    named = [(k, p.detach()) for k, p in model.named_parameters() if p.requires_grad]
    if not named:
        return {}
    norms = torch._foreach_norm([p for _, p in named], float('inf'))
    return {k: n for (k, _), n in zip(named, norms)}


def last_good_checkpoint(runner) -> Optional[str]:
    """The checkpoint a stopped run can be resumed from: the last one this run saved (or
    resumed from), else the newest ``iter_N.pth`` in the work dir up to the current
    iteration, else None."""
    last = runner.message_hub.get_info('last_ckpt')
    if last and osp.isfile(last):
        return last
    steps = {s: p for s, p in checkpoint_steps(runner.work_dir).items() if s <= runner.iter}
    return steps[max(steps)] if steps else None


def _optimizer_states(optim_wrapper) -> list:
    """``[(optimizer, {param: {key: copy}})]`` of every optimizer of ``optim_wrapper``."""
    wrappers = getattr(optim_wrapper, 'optim_wrappers', None) or {'': optim_wrapper}
    return [(w.optimizer, {p: {k: v.detach().clone() if torch.is_tensor(v) else copy.deepcopy(v)
                               for k, v in state.items()}
                           for p, state in w.optimizer.state.items()})
            for w in wrappers.values()]


def _restore_optimizer_states(snapshot: list) -> None:
    """Put back :func:`_optimizer_states`' copies, into the existing tensors where possible
    (a captured CUDA graph keeps pointing at them)."""
    for optimizer, saved in snapshot:
        for param in [p for p in optimizer.state if p not in saved]:
            del optimizer.state[param]
        for param, state in saved.items():
            current = optimizer.state[param]
            for key, value in state.items():
                old = current.get(key)
                if torch.is_tensor(value) and torch.is_tensor(old) and old.shape == value.shape:
                    old.copy_(value)
                else:
                    current[key] = value.clone() if torch.is_tensor(value) else value


@HOOKS.register_module()
class NICEGANNonFiniteGuardHook(Hook):
    """Stop training at the first iteration with a non-finite loss term or gradient
    (or, with ``max_loss``, a loss term beyond a bound).

    Runs before the logger and the checkpoint hook, so nothing is saved after the bad
    iteration. A gradient is seen through the parameters it updated (max |p| per
    parameter, fused; one sync together with the losses). The error names the
    iteration, the non-finite loss terms (or parameters) and the last good checkpoint.

    Args:
        max_skips: instead of stopping, undo up to this many bad iterations over the run
            (weights, buffers and optimizer states go back to before the iteration, and
            training goes on with the next batch); the next one stops. ``0`` (default):
            stop at the first. Costs a copy of the weights and optimizer states per
            iteration while skips are left.
        max_loss: a divergence that stays finite (losses of 1e10) is bad too: a logged
            loss term (a key holding ``loss``) with ``|value| > max_loss`` counts like a
            non-finite one (stop, or undo with ``max_skips``). ``None`` (default): off.
            Pick it well above the losses your run logs when healthy (e.g. ``1e4``).
    """
    priority = 'ABOVE_NORMAL'

    def __init__(self, max_skips: int = 0, max_loss: Optional[float] = None) -> None:
        if not isinstance(max_skips, int) or isinstance(max_skips, bool) or max_skips < 0:
            raise ValueError(f'NICEGANNonFiniteGuardHook: max_skips must be an integer >= 0, '
                             f'got {max_skips!r}')
        if max_loss is not None and (isinstance(max_loss, bool)
                                     or not isinstance(max_loss, (int, float))
                                     or not 0 < max_loss < float('inf')):
            raise ValueError(f'NICEGANNonFiniteGuardHook: max_loss must be a positive finite '
                             f'number or None, got {max_loss!r}')
        self.max_skips = max_skips
        self.max_loss = None if max_loss is None else float(max_loss)
        self.skipped: List[int] = []
        self._snapshot: Optional[tuple] = None

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if len(self.skipped) < self.max_skips:
            model = unwrap(runner.model)
            weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self._snapshot = (weights, _optimizer_states(runner.optim_wrapper))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        values = {k: v for k, v in (outputs or {}).items()
                  if torch.is_tensor(v) or isinstance(v, float)}
        params = _parameter_maxabs(unwrap(runner.model))
        losses = {k: torch.as_tensor(v) for k, v in values.items() if 'loss' in k}
        if _all_finite([torch.as_tensor(v) for v in values.values()] + list(params.values()),
                       list(losses.values()), self.max_loss):
            return
        step = runner.iter + 1

        def terms(keys: List[str]) -> str:
            return _first_six([f'{k}={float(torch.as_tensor(values[k]).float().mean()):g}'
                               for k in keys])
        bad = nonfinite_tensors({k: torch.as_tensor(v) for k, v in values.items()})
        huge = [k for k, v in losses.items() if self.max_loss is not None
                and bool((v.detach().float().abs() > self.max_loss).any())]
        if bad:
            what = f'non-finite loss at iteration {step}: {terms(bad)}'
        elif (bad := nonfinite_tensors(params)):
            what = (f'non-finite gradient at iteration {step}: its losses are finite but the '
                    f'update made {len(bad)} parameter(s) NaN/Inf: {_first_six(bad)}')
        elif huge:
            what = (f'loss beyond max_loss={self.max_loss:g} at iteration {step} (diverging): '
                    f'{terms(huge)}')
        else:
            what = (f'non-finite (or beyond max_loss) loss or gradient at iteration {step} '
                    'on another rank')
        if self._snapshot is not None and len(self.skipped) < self.max_skips:
            weights, optim_state = self._snapshot
            if not nonfinite_tensors(weights):
                unwrap(runner.model).load_state_dict(weights)  # copies in place
                _restore_optimizer_states(optim_state)
                self.skipped.append(step)
                runner.logger.warning(
                    f'{what}; iteration undone (weights and optimizer states restored), '
                    f'skip {len(self.skipped)} of max_skips={self.max_skips}')
                return
        last = last_good_checkpoint(runner)
        skipped = f' after skipping iterations {self.skipped}' if self.skipped else ''
        raise NonFiniteError(
            f'{what}{skipped}; training stopped, nothing saved after it. Last good '
            f'checkpoint: {last or "none (no checkpoint saved yet)"}. Lower the lr or '
            'check the data, then resume from it (or undo up to N bad iterations instead: '
            '--cfg-options default_hooks.nonfinite.max_skips=N)')


def refuse_nonfinite_weights(model: torch.nn.Module, when: str, name: str,
                             last_good: Optional[str]) -> None:
    """Raise :class:`NonFiniteError` when the weights of ``model`` (wrapped or not) hold a
    NaN/Inf, so that ``name`` (what would be saved) is never saved; the message names
    ``when`` (``'iteration 5'``), how many tensors and ``last_good`` (the last checkpoint)."""
    bad = nonfinite_tensors(unwrap(model).state_dict())
    if bad:
        raise NonFiniteError(
            f'the weights hold NaN/Inf at {when} ({len(bad)} tensors, e.g. '
            f'{", ".join(bad[:3])}); {name} not saved. Last good checkpoint: '
            f'{last_good or "none"}')

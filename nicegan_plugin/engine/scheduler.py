"""The official NICE-GAN learning-rate schedule as an MMEngine parameter scheduler."""
from typing import List, Optional

import torch
from mmagic.registry import PARAM_SCHEDULERS
from mmengine.logging import MessageHub, print_log
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler


@PARAM_SCHEDULERS.register_module()
class NICEGANLinearDecayLR(LRSchedulerMixin, _ParamScheduler):
    """Constant lr for the first half, then linear decay to 0 (``--decay_flag``).

    At 1-based iteration ``s`` the lr is ``lr * (1 - (s - H) / H)`` for ``s > H``,
    with ``H = total_iters // 2``, in closed form (no drift, exact on resume, unlike
    the official resume which applies the decay twice).

    Why not MMEngine's ``LinearLR``: it cannot express the official value at an odd
    ``total_iters`` (the last step's factor is ``-1/H``, which ``LinearLR`` rejects)
    and it accumulates the factor multiplicatively. This scheduler follows the
    official formula everywhere, including that last step of an odd-length run.

    A learning rate held as a device tensor (CUDA-graph mode, see
    ``nicegan_plugin.utils.cuda_graph``) is updated in place, never replaced: the
    captured graph reads that tensor. ``base_values`` and the last values stay
    Python floats, so the scheduler's state dict is the same in both modes.

    Args:
        optimizer: the wrapped optimizer.
        total_iters: the official ``--iteration``. ``None`` (the configs' default)
            follows the runner's ``train_cfg.max_iters``, read from the message hub,
            so that overriding ``max_iters`` moves the schedule with it.
    """

    def __init__(self, optimizer, total_iters: Optional[int] = None, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = False,
                 verbose: bool = False) -> None:
        if total_iters is not None and total_iters < 1:
            raise ValueError(f'total_iters must be >= 1, got {total_iters}')
        self.total_iters = total_iters
        for group in optimizer.param_groups:  # the base lr must not alias a tensor lr
            if torch.is_tensor(group['lr']) and last_step == -1:
                group.setdefault('initial_lr', group['lr'].item())
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)
        self.base_values = [_plain(v) for v in self.base_values]

    def step(self) -> None:
        """MMEngine's step, writing into tensor learning rates in place."""
        tensors = [g[self.param_name] for g in self.optimizer.param_groups]
        super().step()  # assigns Python floats
        self._restore_tensors(tensors)

    def _restore_tensors(self, tensors: list) -> None:
        for group, old in zip(self.optimizer.param_groups, tensors):
            new = group[self.param_name]
            if torch.is_tensor(old) and new is not old:
                old.fill_(_plain(new))
                group[self.param_name] = old
        self._last_value = [_plain(v) for v in self._last_value]

    def _total(self, step: int) -> Optional[int]:
        if self.total_iters is not None:
            return self.total_iters
        total = MessageHub.get_current_instance().get_info('max_iters')
        if total is None and step > 1:
            raise RuntimeError(
                'NICEGANLinearDecayLR(total_iters=None) follows the runner\'s max_iters, '
                'but the message hub has none; set total_iters in param_scheduler')
        return total

    def factor(self, step: int) -> float:
        """lr multiplier at 1-based iteration ``step``."""
        total = self._total(step)
        if total is None:  # only at step 1, where every schedule has factor 1
            return 1.0
        half = total // 2
        if half == 0 or step <= half:
            return 1.0
        return 1.0 - (step - half) / half

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state, then give the optimizer the lr of the next iteration.

        A checkpoint converted from the official code carries only the step counters
        (``last_step``, ``_global_step``) and the official optimizer's lr of the step it
        was saved after; setting the lr here makes the first resumed iteration use the
        scheduled value (for MMEngine's own checkpoints it is the value already saved).
        """
        super().load_state_dict(state_dict)
        self.base_values = [_plain(v) for v in self.base_values]
        if self.total_iters is None and \
                MessageHub.get_current_instance().get_info('max_iters') is None:
            # resumed before the runner published max_iters (MMagic's own train.py):
            # the optimizer keeps its saved lr for one iteration
            print_log('NICEGANLinearDecayLR: total_iters is not known while resuming; set '
                      'param_scheduler.total_iters (tools/train.py does) for the exact lr '
                      'of the first resumed iteration', logger='current', level=30)
            return
        tensors = [g[self.param_name] for g in self.optimizer.param_groups]
        for group, value in zip(self.optimizer.param_groups, self._get_value()):
            group[self.param_name] = value
        self._last_value = [g[self.param_name] for g in self.optimizer.param_groups]
        self._restore_tensors(tensors)

    def _get_value(self) -> List[float]:
        # last_step counts scheduler steps: the iteration about to run is last_step + 1
        f = self.factor(self.last_step + 1)
        return [base * f for base in self.base_values]


def _plain(value) -> float:
    """A Python float of a float or 0-dim tensor (checkpoints stay plain)."""
    return value.item() if torch.is_tensor(value) else value

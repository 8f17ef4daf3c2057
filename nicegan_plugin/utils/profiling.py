"""Deterministic cost counters for a training step: ATen calls and CUDA kernels.

Wall time on a busy machine is noisy; the number of ATen operator calls a step makes
is not. On a GPU an eager step is bound by the host issuing these calls (one or more
kernel launches each), so their count is the figure to drive down.

- :class:`AtenCallCounter` counts every ATen operator that reaches the dispatcher's
  Python mode (below autograd, so backward ops are counted, composite ops are
  counted as what they decompose into), including the autograd engine's threads.
- :func:`count_cuda_kernels` counts the CUDA kernels a callable launches
  (``torch.profiler``), for the GPU side of the same question.
"""
from collections import Counter
from typing import Any, Callable, Dict, Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode


class AtenCallCounter(TorchDispatchMode):
    """Count ATen operator calls made inside the ``with`` block.

    Example::

        with AtenCallCounter() as counter:
            model.train_on_batch(real, optim_wrapper)
        counter.total, counter.by_op.most_common(10)

    Attributes:
        by_op: ``Counter`` of overload names (``'aten.mul.Tensor'``) -> calls.
    """

    def __init__(self) -> None:
        super().__init__()
        self.by_op: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None) -> Any:
        self.by_op[str(func)] += 1
        return func(*args, **(kwargs or {}))

    @property
    def total(self) -> int:
        """All calls counted so far."""
        return sum(self.by_op.values())

    def by_packet(self) -> Dict[str, int]:
        """Calls per operator (``'aten.mul'``), all overloads together."""
        out: Counter = Counter()
        for name, n in self.by_op.items():
            out[name.rsplit('.', 1)[0] if name.count('.') > 1 else name] += n
        return dict(out)


def count_aten_calls(fn: Callable[[], Any]) -> AtenCallCounter:
    """Run ``fn()`` once under an :class:`AtenCallCounter` and return the counter."""
    with AtenCallCounter() as counter:
        fn()
    return counter


def count_cuda_kernels(fn: Callable[[], Any]) -> Optional[int]:
    """CUDA kernels launched by one call of ``fn()`` (``None`` without CUDA).

    Counts the profiler's device-side kernel events (``DeviceType.CUDA``, memcpy and
    memset included); synchronizes before and after so every kernel is recorded.
    """
    events = _cuda_profile_events(fn)
    return None if events is None else sum(
        1 for e in events if e.device_type == torch.autograd.DeviceType.CUDA)


def count_cuda_launches(fn: Callable[[], Any]) -> Optional[int]:
    """Host-side kernel / graph launch calls of one ``fn()`` (CUDA runtime/driver API);
    None without CUDA."""
    events = _cuda_profile_events(fn)
    return None if events is None else sum(
        1 for e in events if e.name.startswith(('cudaLaunch', 'cuLaunch', 'cudaGraphLaunch')))


def _cuda_profile_events(fn: Callable[[], Any]) -> Optional[list]:
    """torch.profiler events of one synchronized ``fn()``; None without CUDA."""
    if not torch.cuda.is_available():
        return None
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return list(prof.events())

"""Replay a whole training iteration as one CUDA graph (opt-in; fixed shapes).

On a GPU an eager GAN iteration is bound by the host issuing thousands of small
kernel launches. :class:`CUDAGraphStep` runs a step function eagerly for
``warmup_iters`` calls (on a side stream), captures one call with
``torch.cuda.CUDAGraph`` and from then on copies each batch into static input
buffers and replays the graph: forwards, backwards, gradient all-reduces, the
optimizer steps and every in-place buffer update (spectral-norm vectors) of the
iteration, with no Python in between.

What replay needs from the optimizers is done once, on the first CUDA call
(:func:`make_graph_ready`), and used by warm-up, replay and eager fallbacks alike,
so that every iteration of a graph-mode run computes the same thing:

- ``capturable=True`` (Adam keeps its step count and bias corrections on the device;
  they are float32 device arithmetic instead of float64 host arithmetic);
- the learning rate of each param group is a 0-dim device tensor (a Python float
  would be baked into the graph); schedulers must update it in place
  (``NICEGANLinearDecayLR`` does); a float written over it by another scheduler is
  copied into the tensor before the next replay;
- ``state_dict()`` stays plain (float lr, the configured ``capturable``, CPU step
  counts), so checkpoints load in eager and in graph mode.

The step runs eagerly instead, with one log line per reason, when the batch is not
on a CUDA device, when an optimizer wrapper cannot be captured (``AmpOptimWrapper``'s
GradScaler, gradient accumulation or clipping, an optimizer without ``capturable``), for a batch
whose shapes differ from the captured one, and for good when capture fails.
Graph mode never computes something else silently: a changed optimizer
hyper-parameter (other than lr, handled above) or a reloaded optimizer state drops
the graph, which is captured again after a new warm-up.
"""
import logging
from contextlib import nullcontext
from typing import Any, Callable, ContextManager, Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log

Tensors = Dict[str, torch.Tensor]
StepFn = Callable[[Tensors, Any], Tensors]
Signature = Tuple[Tuple[str, Tuple[int, ...], torch.dtype, torch.device], ...]


# ------------------------------------------------------------------ optimizers
def torch_optimizers(optim_wrapper: Any) -> List[Tuple[Any, torch.optim.Optimizer]]:
    """(wrapper, torch optimizer) pairs of an ``OptimWrapperDict``, an
    ``OptimWrapper`` or a bare optimizer (wrapper ``None``)."""
    if isinstance(optim_wrapper, torch.optim.Optimizer):
        return [(None, optim_wrapper)]
    if hasattr(optim_wrapper, 'optim_wrappers'):  # OptimWrapperDict
        return [(w, w.optimizer) for w in optim_wrapper.optim_wrappers.values()]
    return [(optim_wrapper, optim_wrapper.optimizer)]


def capture_blocker(optim_wrapper: Any) -> Optional[str]:
    """Why these optimizer wrappers cannot run inside a CUDA graph, or None."""
    for wrapper, opt in torch_optimizers(optim_wrapper):
        name = type(wrapper).__name__ if wrapper is not None else type(opt).__name__
        if getattr(wrapper, 'loss_scaler', None) is not None:
            return (f'{name} scales the loss with a GradScaler, whose inf checks and '
                    'scale updates run on the host (use bf16 autocast instead)')
        if getattr(wrapper, '_accumulative_counts', 1) != 1:
            return f'{name} accumulates gradients over several iterations'
        if getattr(wrapper, 'clip_grad_kwargs', None):
            return f'{name} clips gradients and logs their norm on the host'
        if 'capturable' not in opt.defaults:
            return f'{type(opt).__name__} has no capturable mode (use Adam/AdamW)'
    return None


def use_tensor_lrs(optimizer: torch.optim.Optimizer,
                   tensors: Optional[List[torch.Tensor]] = None) -> List[torch.Tensor]:
    """Hold each param group's lr as a 0-dim tensor on its parameters' device.

    ``tensors[i]`` (from an earlier call) is refilled and reused, so a captured graph
    keeps reading the same memory. Returns the tensors in param-group order.
    """
    out = []
    for i, group in enumerate(optimizer.param_groups):
        param, lr = group['params'][0], group['lr']
        if tensors is not None and i < len(tensors):
            tensor = tensors[i]
            if torch.is_tensor(lr) and lr is not tensor:
                tensor.copy_(lr)
            elif not torch.is_tensor(lr):
                tensor.fill_(float(lr))
        elif torch.is_tensor(lr) and lr.dim() == 0 and lr.device == param.device:
            tensor = lr
        else:
            dtype = torch.float64 if param.dtype == torch.float64 else torch.float32
            tensor = torch.tensor(float(lr), dtype=dtype, device=param.device)
        group['lr'] = tensor
        out.append(tensor)
    return out


def make_graph_ready(optimizer: torch.optim.Optimizer,
                     lr_tensors: Optional[List[torch.Tensor]] = None) -> List[torch.Tensor]:
    """Tensor lrs (:func:`use_tensor_lrs`), ``capturable=True`` and step counts on
    the parameters' device. Idempotent; returns the lr tensors."""
    tensors = use_tensor_lrs(optimizer, lr_tensors)
    # warm-up and eager fallbacks step uncaptured on purpose (torch warns once otherwise)
    optimizer._warned_capturable_if_run_uncaptured = True
    for group in optimizer.param_groups:
        group['capturable'] = True
        for p in group['params']:
            state = optimizer.state.get(p)
            if state and torch.is_tensor(state.get('step')) and state['step'].device != p.device:
                state['step'] = state['step'].to(p.device)
    return tensors


def plain_state_dict(optimizer: torch.optim.Optimizer, state_dict: dict) -> dict:
    """``Optimizer.state_dict`` post-hook: what an eager run of the same config would
    save (float lr, the configured ``capturable``, step counts on the CPU), so that
    a graph-mode checkpoint loads in eager mode and vice versa. Live state untouched."""
    capturable = optimizer.defaults.get('capturable', False)
    for group in state_dict['param_groups']:
        if torch.is_tensor(group.get('lr')):
            group['lr'] = group['lr'].item()
        group['capturable'] = capturable
    if not capturable:
        state_dict['state'] = {
            k: ({**s, 'step': s['step'].detach().cpu()} if torch.is_tensor(s.get('step'))
                else s) for k, s in state_dict['state'].items()}
    return state_dict


def _constant_hparams(optimizer: torch.optim.Optimizer) -> List[dict]:
    """Hyper-parameters a captured step bakes in (everything but params and lr)."""
    return [{k: v for k, v in g.items()
             if k not in ('params', 'lr', 'capturable') and not torch.is_tensor(v)}
            for g in optimizer.param_groups]


# --------------------------------------------------------------- static buffers
def signature(inputs: Tensors) -> Signature:
    """What a captured graph is specialized to: keys, shapes, dtypes, devices."""
    return tuple((k, tuple(v.shape), v.dtype, v.device) for k, v in sorted(inputs.items()))


def _shapes(sig: Signature) -> Dict[str, Tuple[int, ...]]:
    return {k: shape for k, shape, _, _ in sig}


class StaticIO:
    """The graph's input buffers and its outputs.

    ``inputs`` are allocated once (copies of the capture batch); every later batch
    is copied into them. Outputs (0-dim log values) are stacked into one static
    tensor inside the graph, so reading them back after a replay is one clone.
    """

    def __init__(self, batch: Tensors) -> None:
        self.signature = signature(batch)
        self.inputs = {k: v.detach().clone() for k, v in batch.items()}
        self._keys: List[str] = []
        self._flat: Optional[torch.Tensor] = None
        self._outputs: Tensors = {}

    def load(self, batch: Tensors) -> None:
        """Copy ``batch`` (same signature) into the static inputs."""
        for k, v in batch.items():
            self.inputs[k].copy_(v, non_blocking=True)

    def bind_outputs(self, outputs: Tensors) -> None:
        """Record the step's outputs (called inside the capture)."""
        bad = [k for k, v in outputs.items() if not torch.is_tensor(v)]
        if bad:
            raise TypeError(f'step outputs {bad} are not tensors: a graph would replay '
                            'their capture-time values')
        values = [v.detach() for v in outputs.values()]
        self._keys = list(outputs)
        if values and all(v.dim() == 0 for v in values) and \
                len({v.dtype for v in values}) == 1:
            self._flat = torch.stack(values)
        else:
            self._outputs = dict(zip(self._keys, values))

    def read(self) -> Tensors:
        """Copies of the outputs of the last replay (static memory is overwritten
        by the next replay)."""
        if self._flat is not None:
            return dict(zip(self._keys, self._flat.clone().unbind(0)))
        return {k: v.clone() for k, v in self._outputs.items()}


# ---------------------------------------------------------------------- step
class CUDAGraphStep:
    """Run ``step(inputs, optim_wrapper) -> log_vars`` as a replayed CUDA graph.

    Args:
        enabled: capture at all (``False``: eager, only ``bf16`` applies).
        warmup_iters: eager iterations before the capture (>= 1: lazy
            initializations such as optimizer state and cuBLAS workspaces must not
            happen inside the capture).
        bf16: run the forward passes under bf16 autocast (no loss scaling: bf16 has
            float32's range); see :meth:`autocast`. Applies to every iteration,
            graphed or eager, so all iterations of a run compute the same thing.

    The step must compute the same thing at every call for the same
    ``optim_wrapper`` (it is captured once); it may read and update tensors in
    place (parameters, buffers, optimizer state) but must not replace them.
    """

    def __init__(self, enabled: bool = True, warmup_iters: int = 3, bf16: bool = False) -> None:
        if int(warmup_iters) < 1:
            raise ValueError(f'cuda_graph.warmup_iters must be >= 1, got {warmup_iters}')
        self.enabled = bool(enabled)
        self.warmup_iters = int(warmup_iters)
        self.bf16 = bool(bf16)
        self.graph: Optional['torch.cuda.CUDAGraph'] = None
        self.io: Optional[StaticIO] = None
        self._owner: Any = None
        self._optims: List[Tuple[Any, torch.optim.Optimizer]] = []
        self._lrs: Dict[int, List[torch.Tensor]] = {}
        self._hparams: Dict[int, List[dict]] = {}
        self._hooks: List[Any] = []
        self._count_deltas: List[Tuple[Any, int]] = []
        self._stream: Optional['torch.cuda.Stream'] = None
        self._eager_calls = 0
        self._failed: Optional[str] = None
        self._logged: set = set()

    def __reduce__(self):
        # copies and pickles (deepcopy of the model) keep the settings, not the graph,
        # which belongs to the original's tensors
        return type(self), (self.enabled, self.warmup_iters, self.bf16)

    # ------------------------------------------------------------- public
    @classmethod
    def from_cfg(cls, cfg: Optional[dict]) -> Optional['CUDAGraphStep']:
        """Build from ``model.cuda_graph`` (``None``: no graph, no autocast)."""
        if cfg is None:
            return None
        unknown = set(cfg) - {'enabled', 'warmup_iters', 'bf16'}
        if unknown:
            raise ValueError(f'model.cuda_graph: unknown keys {sorted(unknown)} (expected '
                             'enabled, warmup_iters, bf16)')
        return cls(**cfg)

    def autocast(self, device_type: str) -> ContextManager:
        """bf16 autocast for the forward passes when ``bf16`` is set, else a no-op
        (never ``autocast(enabled=False)``, which would switch off an outer AMP)."""
        if not self.bf16:
            return nullcontext()
        return torch.autocast(device_type, dtype=torch.bfloat16)

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self, step: StepFn, inputs: Tensors, optim_wrapper: Any) -> Tensors:
        if self.bf16 and any(getattr(w, 'loss_scaler', None) is not None
                             for w, _ in torch_optimizers(optim_wrapper)):
            raise ValueError('model.cuda_graph.bf16 and AmpOptimWrapper both set the autocast '
                             'precision: use one of them')
        if not self.enabled:
            return step(inputs, optim_wrapper)
        reason = self._eager_reason(inputs, optim_wrapper)
        if reason is not None:
            self._log_once(reason, f'cuda_graph: {reason}: the train step runs eagerly '
                           '(no CUDA graph)')
            return step(inputs, optim_wrapper)
        if optim_wrapper is not self._owner:
            self._bind(optim_wrapper)
        self._sync_hyperparameters()
        if self.graph is None:
            if self._eager_calls < self.warmup_iters:
                self._eager_calls += 1
                return self._on_side_stream(step, inputs, optim_wrapper)
            return self._capture(step, inputs, optim_wrapper)
        if signature(inputs) != self.io.signature:
            self._log_once(('shape', signature(inputs)),
                           f'cuda_graph: batch {_shapes(signature(inputs))} differs from the '
                           f'captured {_shapes(self.io.signature)}: this shape runs eagerly '
                           '(same arithmetic, no graph)')
            return step(inputs, optim_wrapper)
        return self._replay(inputs)

    def reset(self, why: str) -> None:
        """Drop the graph; it is captured again after ``warmup_iters`` eager calls."""
        if self.graph is not None:
            print_log(f'cuda_graph: {why}: the graph is captured again after '
                      f'{self.warmup_iters} eager iteration(s)', logger='current')
        self.graph, self.io, self._eager_calls = None, None, 0

    # ------------------------------------------------------------ internals
    def _log_once(self, key: Any, msg: str, level: int = logging.WARNING) -> None:
        if key not in self._logged:
            self._logged.add(key)
            print_log(msg, logger='current', level=level)

    @property
    def failure(self) -> Optional[str]:
        """Why capturing failed (the step then runs eagerly), or None."""
        return self._failed

    def _eager_reason(self, inputs: Tensors, optim_wrapper: Any) -> Optional[str]:
        devices = {v.device.type for v in inputs.values()}
        if devices != {'cuda'} or not torch.cuda.is_available():
            return f'the batch is on {"/".join(sorted(devices))}, not a CUDA device'
        if self._failed is not None:
            return self._failed
        blocker = capture_blocker(optim_wrapper)
        if blocker is not None:
            return blocker
        if torch.distributed.is_available() and torch.distributed.is_initialized() \
                and torch.distributed.get_world_size() > 1 \
                and torch.distributed.get_backend() != 'nccl':
            return (f'the {torch.distributed.get_backend()} process group cannot all-reduce '
                    'inside a CUDA graph (use nccl)')
        return None

    def _bind(self, optim_wrapper: Any) -> None:
        """Make the optimizers graph-ready; hooks keep checkpoints plain."""
        for hook in self._hooks:
            hook.remove()
        self.reset('new optimizer wrapper')
        self._owner, self._optims, self._hooks = optim_wrapper, torch_optimizers(optim_wrapper), []
        for _, opt in self._optims:
            self._lrs[id(opt)] = make_graph_ready(opt)
            self._hparams[id(opt)] = _constant_hparams(opt)
            self._hooks.append(opt.register_state_dict_post_hook(plain_state_dict))
            self._hooks.append(opt.register_load_state_dict_post_hook(self._after_load))
        self._stream = torch.cuda.Stream()

    def _after_load(self, optimizer: torch.optim.Optimizer) -> None:
        """A loaded state replaces the optimizer's tensors and param groups."""
        self._lrs[id(optimizer)] = make_graph_ready(optimizer, self._lrs.get(id(optimizer)))
        self._hparams[id(optimizer)] = _constant_hparams(optimizer)
        self.reset('optimizer state loaded')

    def _sync_hyperparameters(self) -> None:
        """lr written as a float is copied into the graph's tensor; any other changed
        hyper-parameter drops the graph (it is baked into the captured kernels)."""
        for _, opt in self._optims:
            tensors = self._lrs[id(opt)]
            for i, group in enumerate(opt.param_groups):
                if group['lr'] is not tensors[i]:
                    kind = type(group['lr']).__name__
                    self._log_once(('lr', id(opt)), 'cuda_graph: a scheduler replaced the lr '
                                   f'tensor of {type(opt).__name__} by a {kind}; its value is '
                                   'copied into the tensor at every iteration',
                                   level=logging.INFO)
                    make_graph_ready(opt, tensors)
            hparams = _constant_hparams(opt)
            if hparams != self._hparams[id(opt)]:
                self._hparams[id(opt)] = hparams
                self.reset(f'a hyper-parameter of {type(opt).__name__} changed')

    def _on_side_stream(self, step: StepFn, inputs: Tensors, optim_wrapper: Any) -> Tensors:
        """Eager warm-up on the capture stream (lazy per-stream initializations)."""
        main = torch.cuda.current_stream()
        self._stream.wait_stream(main)
        with torch.cuda.stream(self._stream):
            outputs = step(inputs, optim_wrapper)
        main.wait_stream(self._stream)
        return outputs

    def _capture(self, step: StepFn, inputs: Tensors, optim_wrapper: Any) -> Tensors:
        counts = [(w, w._inner_count) for w, _ in self._optims if hasattr(w, '_inner_count')]
        io = StaticIO(inputs)
        for _, opt in self._optims:  # grads are allocated inside the graph's pool
            opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph, stream=self._stream):
                io.bind_outputs(step(io.inputs, optim_wrapper))
        except Exception as err:  # noqa: BLE001  (anything not capturable)
            for w, count in counts:
                w._inner_count = count
            for _, opt in self._optims:
                opt.zero_grad(set_to_none=True)
            self._failed = f'capture failed ({type(err).__name__}: {str(err).splitlines()[0]})'
            self._log_once(self._failed, f'cuda_graph: {self._failed}: the train step runs '
                           'eagerly from now on')
            return step(inputs, optim_wrapper)
        # the capture ran the step's host code once: replays advance these counters
        self._count_deltas = [(w, w._inner_count - count) for w, count in counts]
        for w, count in counts:
            w._inner_count = count
        self.graph, self.io = graph, io
        print_log(f'cuda_graph: captured the train step after {self._eager_calls} eager '
                  f'iteration(s); replaying it for batches of {_shapes(io.signature)}',
                  logger='current')
        return self._replay(inputs)

    def _replay(self, inputs: Tensors) -> Tensors:
        self.io.load(inputs)
        self.graph.replay()
        for w, delta in self._count_deltas:
            w._inner_count += delta
        return self.io.read()

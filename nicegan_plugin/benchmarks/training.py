"""One NICE-GAN training iteration, timed beside the official code's.

:func:`run_benchmark` builds the plugin model, converts its initial weights with the
checkpoint converter and loads them into the official ``ResnetGenerator`` /
``Discriminator`` pairs imported from a local clone of the official repository
(:func:`~nicegan_plugin.official.loop.load_official_networks`; nothing of it is copied
into this project). Both sides
then train on the same batches, interleaved (the same machine load for both), and are
reported per mode:

- ``official``: :class:`~nicegan_plugin.official.loop.OfficialLoop`, the body of the
  official ``NICE.py`` loop (without a clone: :func:`official_order_step`, its order of
  work on the plugin's networks);
- ``eager``: the plugin's ``train_on_batch``;
- ``graph`` / ``graph_bf16`` (CUDA, when the model has ``cuda_graph``): the same step
  replayed as one CUDA graph, without / with bf16 autocast.

Figures per side: median ms per iteration, peak memory of an iteration (CUDA: allocator
peak above the start of the step plus the side's own tensors and graph pool; CPU: peak
RSS above the start of the step plus the side's own tensors), ATen calls per iteration
(:class:`~nicegan_plugin.utils.profiling.AtenCallCounter`), CUDA kernels and host launch
calls per iteration (``torch.profiler``), and the first iteration's D and G losses
against the official ones.
"""
import copy
import ctypes
import gc
import importlib.util
import os
import os.path as osp
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..official.constants import OFFICIAL_NETS
from ..official.converter import plugin_to_official
from ..official.loop import OFFICIAL_WEIGHTS, OfficialLoop, load_official_networks
from ..official.parity import OFFICIAL_SCHEDULE
from ..utils.profiling import AtenCallCounter, count_cuda_kernels, count_cuda_launches

Tensors = Dict[str, torch.Tensor]
_WEIGHTS_NOTE = {'float32': ': Adam\'s steps are about lr whatever the gradient\'s size, so '
                            'rounding in near-zero gradients gives lr-sized differences; '
                            '--float64 compares exactly'}
OFFICIAL_LR = 1e-4
MODES = ('official', 'eager', 'graph', 'graph_bf16')


# ------------------------------------------------- official order, plugin networks
def official_order_step(model, real: Tensors, optim_wrapper,
                        weights: Optional[Dict[str, float]] = None) -> Dict[str, torch.Tensor]:
    """The official loop's order of work on the plugin's own networks and optimizers.

    Unlike ``train_on_batch``: generators run with autograd in the D step (outputs
    detached), the G step runs full discriminator forwards on the real images and
    back-propagates into every discriminator parameter (gradients the next D
    ``zero_grad`` discards), and each generator decodes in three separate calls. A
    reference that needs no official clone (tests count its ATen calls).
    """
    w = weights or OFFICIAL_WEIGHTS
    gens, dis = model.generators, model.discriminators
    a, b = model.domains
    d_opt, g_opt = optim_wrapper['discriminators'], optim_wrapper['generators']

    def mse_to(x, value):
        return F.mse_loss(x, torch.full_like(x, value))

    d_opt.zero_grad()
    ra, rb = dis[a](real[a]), dis[b](real[b])
    fake_b, fake_a = gens[b](ra.z).detach(), gens[a](rb.z).detach()
    fa, fb = dis[a](fake_a), dis[b](fake_b)
    loss_d = 0
    for r, f in ((ra, fa), (rb, fb)):
        loss_d = loss_d + w['adv'] * sum(mse_to(r[i], 1.) + mse_to(f[i], 0.) for i in (1, 2, 0))
    loss_d.backward()
    d_opt.step()

    g_opt.zero_grad()
    za, zb = dis[a](real[a]).z, dis[b](real[b]).z
    fa, fb = dis[a](gens[a](zb)), dis[b](gens[b](za))
    loss_g = 0
    for d, out, cyc, rec in ((a, fa, gens[a](fb.z), gens[a](za)),
                             (b, fb, gens[b](fa.z), gens[b](zb))):
        adv = sum(mse_to(out[i], 1.) for i in (1, 2, 0))
        loss_g = loss_g + w['adv'] * adv + w['cycle'] * F.l1_loss(cyc, real[d]) \
            + w['recon'] * F.l1_loss(rec, real[d])
    loss_g.backward()
    g_opt.step()
    return dict(loss_d=loss_d.detach(), loss_g=loss_g.detach())


# ------------------------------------------------------------------- plugin side
def build_plugin_model(arch: dict, cuda_graph: Optional[dict] = None):
    """A two-domain (A, B) ``NICEGAN`` of the given architecture and its optimizers
    (the official Adam, as the configs' schedule)."""
    from mmagic.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    init_default_scope('mmagic')
    cfg = dict(
        type='NICEGAN',
        data_preprocessor=dict(type='DataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
                               output_channel_order='RGB'),
        generator=dict(type='NICEGANGenerator', base_channels=arch['ch'],
                       num_blocks=arch['n_res'], img_size=arch['img_size'],
                       light=arch['light']),
        discriminator=dict(type='NICEGANDiscriminator', base_channels=arch['ch'],
                           num_layers=arch['n_dis']),
        default_domain='B', reachable_domains=['A', 'B'], related_domains=['A', 'B'])
    if cuda_graph is not None:
        cfg['cuda_graph'] = cuda_graph
    model = MODELS.build(cfg).train()
    return model, build_optim_wrapper(model, copy.deepcopy(OFFICIAL_SCHEDULE['optim_wrapper']))


def supports_cuda_graph() -> bool:
    """Whether this version of the plugin has the CUDA-graph train step."""
    return importlib.util.find_spec('nicegan_plugin.utils.cuda_graph') is not None


# ----------------------------------------------------------------------- measuring
def _tensor_bytes(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.device.type != 'meta':
            key = (t.untyped_storage().data_ptr(), t.device)
            if key not in seen:
                seen.add(key)
                total += t.untyped_storage().nbytes()
    return total


def _state_tensors(modules: Sequence[nn.Module], optims: Sequence[torch.optim.Optimizer],
                   grads: bool = True):
    for m in modules:
        yield from m.state_dict(keep_vars=True).values()
        if grads:
            yield from (p.grad for p in m.parameters() if p.grad is not None)
    for opt in optims:
        for state in opt.state.values():
            yield from (v for v in state.values() if isinstance(v, torch.Tensor))


class _RssSampler:
    """Peak resident set size of this process while a block runs (Linux /proc)."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    @staticmethod
    def rss() -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __enter__(self) -> '_RssSampler':
        self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def _trim_heap() -> None:
    """Return freed heap pages to the OS so that RSS reflects live memory (glibc)."""
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclass
class Side:
    """One contestant: how to run an iteration and what it owns."""
    name: str
    step: Callable[[Tensors], Dict[str, torch.Tensor]]
    modules: List[nn.Module]
    optims: List[torch.optim.Optimizer]
    times: List[float] = field(default_factory=list)
    first_losses: Optional[Dict[str, float]] = None
    graph_pools: set = field(default_factory=set)


@dataclass
class BenchmarkResult:
    """Everything measured; :meth:`table` is the human summary."""
    device: str
    threads: int
    arch: dict
    batch: int
    iters: int
    warmup: int
    ms_per_iter: Dict[str, float]
    min_ms_per_iter: Dict[str, float]
    speedup: Dict[str, float]
    peak_memory_mb: Dict[str, Optional[float]]
    aten_calls: Dict[str, int]
    cuda_kernels: Dict[str, Optional[int]]
    launch_calls: Dict[str, Optional[int]]
    first_losses: Dict[str, Dict[str, float]]
    first_loss_rel_diff: Dict[str, float]
    weights_diff: Dict[str, Dict[str, float]]
    dtype: str
    notes: List[str]

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        a = self.arch
        head = (f'{self.device}, {self.threads} threads, {a["img_size"]} px, ch {a["ch"]}, '
                f'n_res {a["n_res"]}, n_dis {a["n_dis"]}, {"light" if a["light"] else "full"}, '
                f'batch {self.batch}; median of {self.iters} iterations after {self.warmup}')
        cols = f'{"mode":<15}{"ms/iter":>10}{"speed-up":>10}{"min ms":>10}{"peak MB":>9}' \
               f'{"ATen":>7}' \
               f'{"kernels":>9}{"launches":>10}{"iter-1 loss diff":>18}'
        lines = [head, cols]

        def fmt(v, spec):
            return format(v, spec) if v is not None else '-'

        for mode, ms in self.ms_per_iter.items():
            diff = self.first_loss_rel_diff.get(mode)
            lines.append(
                f'{mode:<15}{ms:>10.1f}{"x" + format(self.speedup[mode], ".2f"):>10}'
                f'{self.min_ms_per_iter[mode]:>10.1f}'
                f'{fmt(self.peak_memory_mb.get(mode), ".0f"):>9}'
                f'{fmt(self.aten_calls.get(mode), "d"):>7}'
                f'{fmt(self.cuda_kernels.get(mode), "d"):>9}'
                f'{fmt(self.launch_calls.get(mode), "d"):>10}'
                f'{(format(diff, ".1e") if diff is not None else "(reference)"):>18}')
        ref = next(iter(self.ms_per_iter))
        lines += [f'{mode}: weights after the run differ from {ref}\'s by at most '
                  f'{d["abs"]:.1e} ({d["abs"] / OFFICIAL_LR:.1f} x lr; {d["rel"]:.1e} of the '
                  f'tensor\'s largest value; {self.dtype}{_WEIGHTS_NOTE.get(self.dtype, "")})'
                  for mode, d in self.weights_diff.items()]
        lines += [f'note: {n}' for n in self.notes]
        return '\n'.join(lines)


def _graph_pools() -> set:
    """Ids of the non-default CUDA allocator pools (CUDA-graph private pools)."""
    try:
        return {tuple(s['segment_pool_id']) for s in torch.cuda.memory_snapshot()
                if tuple(s['segment_pool_id']) != (0, 0)}
    except Exception:  # noqa: BLE001  (older/other allocators: no pool accounting)
        return set()


def _pool_bytes(pools: set) -> int:
    if not pools:
        return 0
    try:
        return sum(s['total_size'] for s in torch.cuda.memory_snapshot()
                   if tuple(s['segment_pool_id']) in pools)
    except Exception:  # noqa: BLE001  (see _graph_pools)
        return 0


def _peak_memory_mb(side: Side, batch: Tensors, device: torch.device) -> Optional[float]:
    """Peak memory of one iteration of ``side`` (see the module docstring)."""
    # a graph's gradients live in its pool, counted with it
    own = _tensor_bytes(_state_tensors(side.modules, side.optims, grads=not side.graph_pools))
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        side.step(batch)
        torch.cuda.synchronize()
        step = torch.cuda.max_memory_allocated() - before
        return (step + own + _pool_bytes(side.graph_pools)) / 2**20
    if not osp.exists('/proc/self/statm'):
        return None
    _trim_heap()
    with _RssSampler() as rss:
        before = rss.peak
        side.step(batch)
    return (rss.peak - before + own) / 2**20


def _official_state(side: Side) -> Dict[str, dict]:
    """``{'gen2B', 'gen2A', 'disA', 'disB'}`` state dicts of a side (official names)."""
    if hasattr(side.modules[0], 'generators'):  # a plugin model
        state = plugin_to_official({'state_dict': side.modules[0].state_dict()}, 'A', 'B')
        return {n: state[n] for n in OFFICIAL_NETS}
    return {n: m.state_dict() for n, m in zip(OFFICIAL_NETS, side.modules)}


def _weights_diff(side: Side, reference: Side) -> Dict[str, float]:
    """Max over tensors of max |side - reference| (``abs``) and of that over
    max |reference| (``rel``)."""
    ours, theirs = _official_state(side), _official_state(reference)
    worst = dict(abs=0.0, rel=0.0)
    for name, state in theirs.items():
        for key, ref in state.items():
            diff = (ours[name][key].to(ref) - ref).abs().max().item()
            worst['abs'] = max(worst['abs'], diff)
            worst['rel'] = max(worst['rel'], diff / max(ref.abs().max().item(), 1e-30))
    return worst


def run_benchmark(official_repo: Optional[str], device: str = 'cpu', img_size: int = 128,
                  ch: int = 32, n_res: int = 6, n_dis: int = 7, light: bool = True, batch: int = 1,
                  iters: int = 5, warmup: int = 1, modes: Optional[Sequence[str]] = None,
                  seed: int = 0, dtype: torch.dtype = torch.float32,
                  log: Callable[[str], None] = print) -> BenchmarkResult:
    """Time the official loop and the plugin's step(s) on the same weights and batches.

    Args:
        official_repo: local clone of the official NICE-GAN-pytorch repository;
            ``None``: the reference is :func:`official_order_step` on the plugin's
            networks ('official order'), e.g. where no clone is at hand.
        device: 'cpu' or 'cuda'.
        img_size, ch, n_res, n_dis, light, batch: the configuration (paper: 256, 64,
            6, 7, light, batch 1).
        iters: timed iterations (median reported); warmup: untimed ones before them
            (graph modes need their warm-up plus the capture: at least 3).
        modes: subset of :data:`MODES`; default: official and eager, plus graph and
            graph_bf16 on CUDA when the plugin has the CUDA-graph step.
        seed: initial weights and batches.
        dtype: of networks and batches; float64 checks the numbers (the weights of both
            sides then agree to ~1e-12 after the run), timings are for float32.
        log: progress lines.
    """
    dev = torch.device(device)
    modes = _check_modes(dev, modes)
    if any(m.startswith('graph') for m in modes):
        warmup = max(warmup, GRAPH_WARMUP + 1)
    arch = dict(ch=ch, n_res=n_res, n_dis=n_dis, img_size=img_size, light=light)
    networks = load_official_networks(official_repo) if official_repo else None
    torch.manual_seed(seed)
    sides = _build_sides(networks, arch, modes, dev, dtype)

    gen = torch.Generator().manual_seed(seed + 1)
    n_batches = warmup + iters + 3  # + ATen count, kernel count, memory
    batches = [{d: (torch.rand(batch, 3, img_size, img_size, generator=gen) * 2 - 1).to(dev, dtype)
                for d in 'AB'} for _ in range(n_batches)]
    _time_sides(sides, batches[:warmup + iters], warmup, dev, log)
    aten, kernels, launches, memory = _count_and_measure(sides, batches[warmup + iters:], dev)

    ms = {s.name: 1e3 * statistics.median(s.times) for s in sides}
    weights = {s.name: _weights_diff(s, sides[0]) for s in sides[1:]}
    ref = sides[0].first_losses
    diffs = {s.name: max(abs(s.first_losses[k] - ref[k]) / max(abs(ref[k]), 1e-30)
                         for k in ref) for s in sides[1:]}
    return BenchmarkResult(
        device=str(dev) if dev.type == 'cpu' else torch.cuda.get_device_name(dev),
        threads=torch.get_num_threads(), arch=arch, batch=batch, iters=iters, warmup=warmup,
        ms_per_iter=ms,
        min_ms_per_iter={s.name: 1e3 * min(s.times) for s in sides},
        speedup={k: ms[sides[0].name] / v for k, v in ms.items()},
        peak_memory_mb=memory, aten_calls=aten, cuda_kernels=kernels, launch_calls=launches,
        first_losses={s.name: s.first_losses for s in sides}, first_loss_rel_diff=diffs,
        weights_diff=weights, dtype=str(dtype).replace('torch.', ''),
        notes=_notes(sides, networks is not None, dev, log))


#: warm-up iterations of a graph mode before its capture
GRAPH_WARMUP = 2


def _check_modes(dev: torch.device, modes: Optional[Sequence[str]]) -> List[str]:
    """``modes`` checked against the device (default: every mode the device runs)."""
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda: no CUDA device is available')
    graph_ok = dev.type == 'cuda' and supports_cuda_graph()
    if modes is None:
        modes = list(MODES) if graph_ok else ['official', 'eager']
    unknown = set(modes) - set(MODES)
    if unknown or 'official' not in modes:
        raise ValueError(f'modes must include official and be among {MODES}; got {modes}')
    if any(m.startswith('graph') for m in modes) and not graph_ok:
        raise ValueError('graph modes need --device cuda and a plugin with the CUDA-graph '
                         'train step (nicegan_plugin.utils.cuda_graph)')
    return list(modes)


def _build_sides(networks, arch: dict, modes: Sequence[str], dev: torch.device,
                 dtype: torch.dtype) -> List[Side]:
    """The reference side (the official loop, or its order on the plugin's networks when
    ``networks`` is None) and one plugin side per other mode, all from the same initial
    weights (drawn from torch's current seed)."""
    base, base_optim = build_plugin_model(arch)
    init_state = copy.deepcopy(base.state_dict())
    if networks is not None:
        official_state = plugin_to_official({'state_dict': init_state}, 'A', 'B')
        official = OfficialLoop.build(networks, arch, official_state, dev, dtype=dtype)

        def official_step(r):
            out = official.step(r['A'], r['B'])
            return dict(loss_d=out['Discriminator_loss'], loss_g=out['Generator_loss'])
        sides = [Side('official', official_step, official.modules(), official.optimizers())]
    else:
        base.to(dev, dtype)
        sides = [Side('official order', lambda r: official_order_step(base, r, base_optim),
                      [base], [w.optimizer for w in base_optim.values()])]
    for mode in modes:
        if mode == 'official':
            continue
        graph = None if mode == 'eager' else dict(
            enabled=True, warmup_iters=GRAPH_WARMUP, bf16=mode == 'graph_bf16')
        model, optim = build_plugin_model(arch, graph)
        model.load_state_dict(init_state)
        model.to(dev, dtype)

        def plugin_step(r, model=model, optim=optim):
            return model.train_on_batch(r, optim)
        sides.append(Side(mode, plugin_step, [model], [w.optimizer for w in optim.values()]))
    return sides


def _time_sides(sides: List[Side], batches: List[Tensors], warmup: int, dev: torch.device,
                log: Callable[[str], None]) -> None:
    """Train every side on each batch in turn (who goes first rotates), timing each step
    after the first ``warmup`` into ``side.times``; the first step's losses go to
    ``side.first_losses``."""
    def sync() -> None:
        if dev.type == 'cuda':
            torch.cuda.synchronize()

    for i, real in enumerate(batches):
        last = {}
        order = sides[i % len(sides):] + sides[:i % len(sides)]  # rotate who goes first
        for side in order:
            pools = _graph_pools() if dev.type == 'cuda' and side.name.startswith('graph') \
                else None
            sync()
            t0 = time.perf_counter()
            out = side.step(real)
            sync()
            last[side.name] = time.perf_counter() - t0
            if pools is not None:
                side.graph_pools |= _graph_pools() - pools
            if i == 0:
                side.first_losses = {k: float(out[k].detach()) for k in ('loss_d', 'loss_g')}
            if i >= warmup:
                side.times.append(last[side.name])
        log(f'iteration {i + 1}/{len(batches)}{" (warm-up)" if i < warmup else ""}: '
            + ', '.join(f'{s.name} {1e3 * last[s.name]:.0f} ms' for s in sides))


def _count_and_measure(sides: List[Side], batches: List[Tensors], dev: torch.device):
    """ATen calls, CUDA kernels, host launch calls (CUDA) and peak memory of one step of
    each side, on three further batches: ``(aten, kernels, launches, memory)`` by side."""
    aten, kernels, launches, memory = {}, {}, {}, {}
    for side in sides:
        counter = AtenCallCounter()
        with counter:
            side.step(batches[0])
        aten[side.name] = counter.total
    for side in sides:
        kernels[side.name] = count_cuda_kernels(lambda: side.step(batches[1]))
    if dev.type == 'cuda':
        for side in sides:
            launches[side.name] = count_cuda_launches(lambda: side.step(batches[2]))
    for side in sides:
        memory[side.name] = _peak_memory_mb(side, batches[2], dev)
    return aten, kernels, launches, memory


def _notes(sides: List[Side], official: bool, dev: torch.device,
           log: Callable[[str], None]) -> List[str]:
    """The result's notes: what each figure is, and a warning for a graph mode that ran
    eagerly (its figures must not pass for a graph's)."""
    notes = [] if official else [
        'no --official-repo: the reference is the official loop\'s order of work on the '
        'plugin\'s networks, not the official code']
    notes += ['ms/iter: median wall-clock time of the timed iterations; min ms: the '
              'fastest (the least disturbed by other load on the machine)',
              'peak MB: one iteration\'s peak above its start plus the side\'s own tensors '
             + ('(CUDA allocator; graph modes add their private pool)' if dev.type == 'cuda'
                else '(RSS)'),
             'ATen: calls per iteration reaching the dispatcher (AtenCallCounter); graph '
             'modes: host calls of a replay']
    for side in sides:
        graph = getattr(side.modules[0], 'cuda_graph', None)
        if side.name.startswith('graph') and graph is not None and not graph.captured:
            why = graph.failure or 'not captured'
            notes.insert(0, f'WARNING: {side.name} ran EAGERLY ({why}): its figures are not '
                         'those of a CUDA graph')
            log(f'WARNING: {side.name}: the CUDA graph was not captured ({why})')
    if dev.type == 'cuda':
        notes.append('kernels: CUDA kernels executed per iteration; launches: host launch '
                     'calls (a graph replay is one)')
    return notes

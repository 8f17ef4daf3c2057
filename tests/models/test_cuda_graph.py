"""CUDA-graph train step (model.cuda_graph): fallbacks, static buffers, plain checkpoints
and bf16 on the CPU; graphed == eager bit for bit, lr under replay and resume across
modes on a GPU (those skip without one)."""
import copy
import glob
import json
import logging
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

# cuBLAS needs this before its first use for deterministic results
os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
ADAM = dict(type='Adam', lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4)


@pytest.fixture
def log_lines():
    """Messages logged to MMEngine's current logger during the test."""
    from mmengine.logging import MMLogger
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    logger, handler = MMLogger.get_current_instance(), Collect()
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


@pytest.fixture(scope='module')
def build(tiny_model_cfg):
    """``build(graph_cfg=None, like=None, device='cpu', total_iters=None, optimizer=ADAM,
    **kw)``: a tiny NICEGAN (+ optimizers, + lr schedulers if ``total_iters``), weights of
    ``like``."""
    def _build(graph_cfg=None, like=None, device='cpu', total_iters=None, optimizer=ADAM,
               **kw):
        from mmagic.registry import MODELS
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import PARAM_SCHEDULERS
        cfg = tiny_model_cfg(**kw)
        if graph_cfg is not None:
            cfg['cuda_graph'] = graph_cfg
        model = MODELS.build(cfg)
        if like is not None:
            model.load_state_dict(like.state_dict())
        model.to(device)
        optim = build_optim_wrapper(model, dict(
            constructor='MultiOptimWrapperConstructor',
            generators=dict(optimizer=copy.deepcopy(optimizer)),
            discriminators=dict(optimizer=copy.deepcopy(optimizer))))
        scheds = [PARAM_SCHEDULERS.build(dict(type='NICEGANLinearDecayLR',
                                              total_iters=total_iters),
                                         default_args=dict(optimizer=optim[g]))
                  for g in ('generators', 'discriminators')] if total_iters else []
        return model, optim, scheds
    return _build


def _batches(n, device='cpu', size=64, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{d: (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).to(device)
             for d in 'AB'} for _ in range(n)]


def _train(model, optim, scheds, batches):
    logs = []
    for real in batches:
        logs.append(model.train_on_batch(real, optim))
        for s in scheds:
            s.step()
    return logs


# ----------------------------------------------------------------------------- CPU
def test_cpu_runs_the_same_eager_step_with_one_log_line(log_lines, build):
    """On the CPU graph mode is the plain eager step (bit for bit), said once."""
    torch.manual_seed(0)
    plain, optim, _ = build()
    graphed, optim_g, _ = build(dict(enabled=True, warmup_iters=1), like=plain)
    batches = _batches(3)
    for ours, ref in zip(_train(graphed, optim_g, [], batches), _train(plain, optim, [], batches)):
        assert ours.keys() == ref.keys()
        assert all(torch.equal(ours[k], ref[k]) for k in ref)
    for k, v in plain.state_dict().items():
        assert torch.equal(graphed.state_dict()[k], v), k
    fallbacks = [m for m in log_lines if m.startswith('cuda_graph:')]
    assert fallbacks == ['cuda_graph: the batch is on cpu, not a CUDA device: the train step '
                         'runs eagerly (no CUDA graph)']
    assert not torch.is_tensor(optim['generators'].optimizer.param_groups[0]['lr'])


def test_static_io_copies_batches_and_snapshots_outputs():
    from nicegan_plugin.utils.cuda_graph import StaticIO, signature
    first = {'A': torch.rand(2, 3, 8, 8), 'B': torch.rand(2, 3, 8, 8)}
    io = StaticIO(first)
    ptrs = {k: v.data_ptr() for k, v in io.inputs.items()}
    assert all(io.inputs[k].data_ptr() != first[k].data_ptr() for k in first)
    second = {'A': torch.rand(2, 3, 8, 8), 'B': torch.rand(2, 3, 8, 8)}
    assert signature(second) == io.signature
    io.load(second)
    assert all(torch.equal(io.inputs[k], second[k]) for k in second)
    assert {k: v.data_ptr() for k, v in io.inputs.items()} == ptrs  # same memory
    assert signature({'A': torch.rand(1, 3, 8, 8), 'B': second['B']}) != io.signature
    assert signature({k: v.double() for k, v in second.items()}) != io.signature
    outs = {'loss_a': torch.tensor(1.5), 'loss_b': torch.tensor(2.5)}
    io.bind_outputs(outs)
    read = io.read()
    io._flat.fill_(0)  # the next replay overwrites the static outputs
    assert {k: v.item() for k, v in read.items()} == {'loss_a': 1.5, 'loss_b': 2.5}
    with pytest.raises(TypeError, match='not tensors'):
        io.bind_outputs({'loss': 1.0})


# what a CUDA graph cannot capture: a value read back to the host, a data-dependent shape
HOST_SYNC_OPS = ('aten._local_scalar_dense', 'aten.item', 'aten.is_nonzero', 'aten.equal',
                 'aten.nonzero', 'aten.masked_select', 'aten.unique', 'aten._unique')


class HostSyncWatch(TorchDispatchMode):
    """Records host-synchronising ATen calls made outside the optimizers' ``step``."""

    def __init__(self, in_step):
        super().__init__()
        self.in_step, self.calls, self.syncs = in_step, 0, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self.in_step:
            self.calls += 1
            if str(func).startswith(HOST_SYNC_OPS):
                self.syncs.append(str(func))
        return func(*args, **(kwargs or {}))


def test_the_iteration_never_waits_on_the_host(build):
    """Capturable on a GPU: the forwards, backwards, loss terms, spectral-norm power
    iterations and the bookkeeping of an iteration make no host-synchronising call (one
    would make capture fail and graph mode run eagerly). Checked on the CPU at the
    dispatcher; the Adam steps are left out (their CPU path reads the step count on the
    host, their capturable GPU path does not)."""
    model, optim, _ = build()
    in_step = []
    for wrapper in optim.optim_wrappers.values():
        wrapper.optimizer.register_step_pre_hook(lambda *_: in_step.append(1))
        wrapper.optimizer.register_step_post_hook(lambda *_: in_step.pop())
    first, second = _batches(2)
    model.train_on_batch(first, optim)  # lazy initialisations happen in warm-up
    with HostSyncWatch(in_step) as watch:
        model.train_on_batch(second, optim)
    assert watch.calls > 500 and watch.syncs == []
    with HostSyncWatch([]) as probe:  # the watch sees a host read when there is one
        (second['A'].sum() > 0).item()
    assert probe.syncs == ['aten._local_scalar_dense.default']


def test_capture_blockers_and_config_errors(project_root):
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper

    from nicegan_plugin.engine.launch.runner_setup import enable_cuda_graph
    from nicegan_plugin.utils.cuda_graph import CUDAGraphStep, capture_blocker
    p = [torch.nn.Parameter(torch.zeros(2))]
    assert capture_blocker(OptimWrapper(torch.optim.Adam(p))) is None
    assert 'no capturable mode' in capture_blocker(OptimWrapper(torch.optim.SGD(p, lr=1)))
    assert 'accumulates' in capture_blocker(
        OptimWrapper(torch.optim.Adam(p), accumulative_counts=2))
    assert 'clips' in capture_blocker(
        OptimWrapper(torch.optim.Adam(p), clip_grad=dict(max_norm=1)))
    with pytest.raises(ValueError, match="unknown keys \\['warmup'\\]"):
        CUDAGraphStep.from_cfg(dict(warmup=3))
    with pytest.raises(ValueError, match='warmup_iters must be >= 1'):
        CUDAGraphStep.from_cfg(dict(warmup_iters=0))
    cfg = Config.fromfile(osp.join(project_root, 'configs', 'nicegan_h2z.py'))
    enable_cuda_graph(cfg)
    assert cfg.model.cuda_graph == dict(enabled=True)
    cfg.optim_wrapper.generators.type = 'AmpOptimWrapper'
    with pytest.raises(ValueError, match='cannot capture AmpOptimWrapper'):
        enable_cuda_graph(cfg)


def test_graph_mode_checkpoint_is_plain_and_loads_in_both_modes():
    """The optimizer state of a graph-ready optimizer (tensor lr, capturable, step
    counts on the device) is saved as an eager run saves it, loads into an eager
    optimizer that then steps, and loads back into the same lr tensor in graph mode."""
    from nicegan_plugin.utils.cuda_graph import make_graph_ready, plain_state_dict
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(2))]
    opt = torch.optim.Adam(params, lr=1e-4, betas=(0.5, 0.999))
    for _ in range(2):  # eager warm-up steps create the state
        opt.zero_grad()
        sum((p ** 2).sum() for p in params).backward()
        opt.step()
    eager_sd = copy.deepcopy(opt.state_dict())
    opt.register_state_dict_post_hook(plain_state_dict)
    lrs = make_graph_ready(opt)
    assert torch.is_tensor(opt.param_groups[0]['lr'])
    saved = opt.state_dict()
    torch.save(saved, buf := f'{os.environ.get("TMPDIR", "/tmp")}/graph_sd_{os.getpid()}.pt')
    saved = torch.load(buf, weights_only=True)
    os.remove(buf)
    group = saved['param_groups'][0]
    assert type(group['lr']) is float and group['lr'] == pytest.approx(1e-4, rel=1e-7)
    assert group['capturable'] is False
    for i, st in saved['state'].items():
        assert st['step'].device.type == 'cpu' and st['step'] == eager_sd['state'][i]['step']
        assert torch.equal(st['exp_avg'], eager_sd['state'][i]['exp_avg'])
    # graph-mode state -> eager optimizer: it steps like the original eager one
    twin = [torch.nn.Parameter(p.detach().clone()) for p in params]
    eager = torch.optim.Adam(twin, lr=1e-4, betas=(0.5, 0.999))
    eager.load_state_dict(saved)
    ref = [torch.nn.Parameter(p.detach().clone()) for p in params]
    ref_opt = torch.optim.Adam(ref, lr=1e-4, betas=(0.5, 0.999))
    ref_opt.load_state_dict(eager_sd)
    for ps, o in ((twin, eager), (ref, ref_opt)):
        o.zero_grad()
        sum((p ** 2).sum() for p in ps).backward()
        o.step()
    for a, b in zip(twin, ref):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=0)  # lr saved via float32
    # eager state -> graph mode: the same lr tensor is refilled, not replaced
    opt.load_state_dict(eager_sd)
    assert make_graph_ready(opt, lrs) == lrs and opt.param_groups[0]['lr'] is lrs[0]


def _light64_losses(fixture, bf16):
    """(ours, official) loss terms of the light64 fixture's steps (float32, eager, CPU),
    per step ``{official name: value}``, in the plugin's weighting."""
    from mmagic.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS

    from nicegan_plugin.official.fixture import load_inputs
    from nicegan_plugin.official.parity import build_from_fixture, official_loss_names
    meta = json.load(open(osp.join(fixture, 'meta.json')))
    ckpt, model_cfg = build_from_fixture(fixture)
    weights = dict(adv=meta['adv_weight'], cycle=meta['cycle_weight'],
                   recon=meta['recon_weight'])
    model_cfg.update(adv_loss=dict(type='NICEGANAdversarialLoss', loss_weight=weights['adv']),
                     cycle_loss=dict(type='L1Loss', loss_weight=weights['cycle']),
                     recon_loss=dict(type='L1Loss', loss_weight=weights['recon']),
                     cuda_graph=dict(enabled=False, bf16=bf16))
    model = MODELS.build(model_cfg)
    model.load_state_dict(ckpt['state_dict'])
    adam = dict(ADAM, lr=meta['lr'], weight_decay=meta['weight_decay'])
    optim = build_optim_wrapper(model, dict(
        constructor='MultiOptimWrapperConstructor', generators=dict(optimizer=adam),
        discriminators=dict(optimizer=copy.deepcopy(adam))))
    scheds = [PARAM_SCHEDULERS.build(dict(type='NICEGANLinearDecayLR',
                                          total_iters=meta['iteration']),
                                     default_args=dict(optimizer=optim[g]))
              for g in ('generators', 'discriminators')]
    inputs = load_inputs(fixture)
    batches = [{d: inputs[f'real_{d}'][s].float() for d in 'AB'} for s in range(meta['steps'])]
    names = official_loss_names(weights)
    expected = torch.load(osp.join(fixture, 'expected_train.pt'), weights_only=True)['losses']
    ours = [{ref: log[key].item() for key, ref, _ in names}
            for log in _train(model, optim, scheds, batches)]
    official = [{ref: w * float(step[ref]) for _, ref, w in names} for step in expected]
    return ours, official


def _max_rel(ours, ref):
    """max over loss terms of max_step |ours - ref| / max_step |ref|."""
    worst = 0.0
    for name in ref[0]:
        err = max(abs(o[name] - r[name]) for o, r in zip(ours, ref))
        worst = max(worst, err / max(max(abs(r[name]) for r in ref), 1e-30))
    return worst


def test_bf16_autocast_effect_on_the_light64_losses(fixture_dir):
    """bf16 autocast is really applied (the losses move) and stays close to float32.
    Prints the measured deviations (quoted in docs/cuda_graphs.md)."""
    fixture = fixture_dir('light_ch3_64px')
    fp32, ref = _light64_losses(fixture, bf16=False)
    bf16, _ = _light64_losses(fixture, bf16=True)
    dev_fp32, dev_bf16, dev_vs = _max_rel(fp32, ref), _max_rel(bf16, ref), _max_rel(bf16, fp32)
    print(f'\nlight64 losses, max relative deviation: fp32 vs official {dev_fp32:.2e}, '
          f'bf16 vs official {dev_bf16:.2e}, bf16 vs fp32 {dev_vs:.2e}')
    assert dev_fp32 < 1e-4
    assert 1e-4 < dev_vs < 0.1


def test_train_tool_cuda_graph_flag(tmp_path, project_root, tiny_config, make_image_set,
                                    data_root_args):
    """tools/train.py --cuda-graph sets model.cuda_graph and trains (eagerly here, said once)."""
    data = make_image_set(str(tmp_path / 'data'), n_a=2, n_b=2, size=64)
    cmd = [sys.executable, 'tools/train.py', tiny_config, '--cuda-graph', '--work-dir',
           str(tmp_path / 'w'), '--cfg-options', 'train_cfg.max_iters=2', *data_root_args(data)]
    proc = subprocess.run(cmd, cwd=project_root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = open(glob.glob(str(tmp_path / 'w' / '*' / '*.log'))[0]).read()
    assert log.count('cuda_graph: the batch is on cpu') == 1
    assert "cuda_graph=dict(enabled=True)" in log  # the config dump


# ---------------------------------------------------------------------------- CUDA
@pytest.fixture
def deterministic():
    """cuDNN and ATen deterministic algorithms. ``warn_only``: the discriminator's
    adaptive max-pool backward has no deterministic kernel, but with 1x1 outputs each
    gradient lands on one element, so it is deterministic in effect."""
    flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
             torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True, warn_only=True)
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags[:2]
    torch.use_deterministic_algorithms(flags[2], warn_only=flags[3])


def _optimizer_state(optim):
    from nicegan_plugin.utils.cuda_graph import torch_optimizers
    out = {}
    for j, (_, opt) in enumerate(torch_optimizers(optim)):
        for i, p in enumerate(opt.param_groups[0]['params']):
            for k, v in opt.state[p].items():
                out[f'{j}.{i}.{k}'] = v
    return out


def _assert_bitwise(model_a, optim_a, model_b, optim_b):
    for k, v in model_a.state_dict().items():  # weights and spectral-norm u, v
        assert torch.equal(model_b.state_dict()[k], v), k
    sa, sb = _optimizer_state(optim_a), _optimizer_state(optim_b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k].cpu(), sb[k].cpu()), k


@cuda
@pytest.mark.parametrize('bf16', [False, True], ids=['fp32', 'bf16'])
def test_graphed_iterations_are_bit_identical_to_eager_cuda(deterministic, log_lines, bf16,
                                                            build):
    """8 iterations, lr decaying from step 5, a batch of another shape at step 7:
    captured after 2 warm-up steps and replayed == the same 8 steps run eagerly with
    the same (graph-ready) optimizers: every loss, weight, SN vector, Adam moment."""
    torch.manual_seed(0)
    plain, optim_p, sched_p = build(device='cuda', total_iters=8)
    graphed, optim_g, sched_g = build(dict(warmup_iters=2, bf16=bf16), like=plain,
                                      device='cuda', total_iters=8)
    eager, optim_e, sched_e = build(dict(warmup_iters=100, bf16=bf16), like=plain,
                                    device='cuda', total_iters=8)
    batches = _batches(8, 'cuda')
    batches[6] = _batches(1, 'cuda', batch=1, seed=1)[0]
    logs_g = _train(graphed, optim_g, sched_g, batches)
    logs_e = _train(eager, optim_e, sched_e, batches)
    assert graphed.cuda_graph.captured and not eager.cuda_graph.captured
    assert torch.is_tensor(optim_g['generators'].optimizer.param_groups[0]['lr'])
    for step, (lg, le) in enumerate(zip(logs_g, logs_e)):
        for k in le:
            assert torch.equal(lg[k], le[k]), (step, k)
    _assert_bitwise(graphed, optim_g, eager, optim_e)
    assert sum('differs from the captured' in m for m in log_lines) == 1
    if not bf16:  # plain eager Adam does its bias corrections in float64 on the host
        logs_p = _train(plain, optim_p, sched_p, batches)
        worst = max(((lg[k] - lp[k]).abs() / lp[k].abs().clamp_min(1e-6)).item()
                    for lg, lp in zip(logs_g, logs_p) for k in lp)
        print(f'\ngraph mode vs plain eager, 8 steps: max relative loss deviation {worst:.2e}')
        assert worst < 1e-2  # float32 rounding (2e-4 on a CPU emulation), not a wrong step


@cuda
def test_lr_used_under_replay_follows_the_closed_form_cuda():
    """The scheduler's in-place lr reaches the replayed Adam step: with gradient 1 the
    parameter moves by lr / (1 + eps) each step."""
    from nicegan_plugin.engine import NICEGANLinearDecayLR
    from nicegan_plugin.utils.cuda_graph import CUDAGraphStep
    total, eps = 10, 1e-8
    p = torch.nn.Parameter(torch.zeros(1, device='cuda'))
    opt = torch.optim.Adam([p], lr=1e-4, betas=(0.5, 0.999), eps=eps)
    sched = NICEGANLinearDecayLR(opt, total_iters=total)
    graph = CUDAGraphStep(warmup_iters=1)

    def step(inputs, optim):
        optim.zero_grad(set_to_none=True)
        (p * inputs['x']).sum().backward()
        optim.step()
        return {'p': p.detach().sum()}

    used = []
    for _ in range(total):
        before = p.detach().clone()
        graph(step, {'x': torch.ones(1, device='cuda')}, opt)
        used.append(((before - p.detach()) * (1 + eps)).item())
        sched.step()
    assert graph.captured
    half = total // 2
    closed = [1e-4 * (1 - (s - half) / half if s > half else 1.0) for s in range(1, total + 1)]
    assert used == pytest.approx(closed, rel=1e-5, abs=1e-11)


@cuda
def test_capture_failure_falls_back_to_the_same_eager_step_cuda(log_lines):
    """A step with a host sync cannot be captured: it runs eagerly, same results."""
    from nicegan_plugin.utils.cuda_graph import CUDAGraphStep
    torch.manual_seed(0)
    nets = [torch.nn.Linear(4, 1).cuda() for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    opts = [torch.optim.Adam(n.parameters(), lr=1e-2) for n in nets]
    graphs = [CUDAGraphStep(warmup_iters=1), CUDAGraphStep(warmup_iters=100)]
    x = torch.randn(8, 4, device='cuda')

    def step_for(net):
        def step(inputs, optim):
            optim.zero_grad(set_to_none=True)
            loss = net(inputs['x']).pow(2).mean()
            if loss.item() > 0:  # host sync: not capturable
                loss.backward()
            optim.step()
            return {'loss': loss.detach()}
        return step

    for _ in range(4):
        out = [g(step_for(n), {'x': x}, o) for g, n, o in zip(graphs, nets, opts)]
        assert torch.equal(out[0]['loss'], out[1]['loss'])
    assert not graphs[0].captured
    assert sum('capture failed' in m for m in log_lines) == 1
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)


@cuda
def test_amp_runs_eagerly_and_refuses_bf16_cuda(log_lines, build):
    amp = dict(type='AmpOptimWrapper', loss_scale='dynamic')
    from mmengine.optim import build_optim_wrapper
    for bf16 in (False, True):
        model, _, _ = build(dict(warmup_iters=1, bf16=bf16), device='cuda')
        optim = build_optim_wrapper(model, dict(
            constructor='MultiOptimWrapperConstructor',
            generators=dict(optimizer=dict(ADAM), **amp),
            discriminators=dict(optimizer=dict(ADAM), **amp)))
        if bf16:
            with pytest.raises(ValueError, match='use one of them'):
                model.train_on_batch(_batches(1, 'cuda')[0], optim)
        else:
            for real in _batches(3, 'cuda'):
                model.train_on_batch(real, optim)
            assert not model.cuda_graph.captured
            assert sum('GradScaler' in m for m in log_lines) == 1


@pytest.fixture
def train_tiny(make_tiny_runner):
    """``train_tiny(work_dir, data, graph, resume_from=None, iters=6)``: the tiny config
    trained (graph mode or not, resumed from a checkpoint or not); its last checkpoint."""
    def train(work_dir, data, graph, resume_from=None, iters=6):
        options = {'train_cfg.max_iters': iters, 'default_hooks.checkpoint.interval': 3,
                   'train_dataloader.batch_size': 2, 'param_scheduler.total_iters': iters}
        if graph:
            options['model.cuda_graph'] = dict(enabled=True, warmup_iters=1)
        if resume_from:
            options.update(resume=True, load_from=str(resume_from))
        make_tiny_runner(work_dir, data, **options).train()
        return torch.load(work_dir / f'iter_{iters}.pth', map_location='cpu',
                          weights_only=False)
    return train


def _compare_ckpts(c1, c2, exact):
    """Bit for bit, or close: weights within 1e-4 (they are O(0.01-1); float32 rounding
    differences in Adam grow over a few steps), each optimizer's moments within 5%
    in relative norm (moments of near-zero gradients differ most)."""
    for k, v in c1['state_dict'].items():
        torch.testing.assert_close(c2['state_dict'][k], v, rtol=0, atol=0 if exact else 1e-4,
                                   msg=k)
    for g in ('generators', 'discriminators'):
        s1, s2 = c1['optimizer'][g]['state'], c2['optimizer'][g]['state']
        assert [s['step'].item() for s in s1.values()] == [s['step'].item() for s in s2.values()]
        for k in ('exp_avg', 'exp_avg_sq'):
            a = torch.cat([s1[i][k].flatten() for i in s1])
            b = torch.cat([s2[i][k].flatten() for i in s1])
            if exact:
                assert torch.equal(a, b), f'{g}.{k}'
            else:
                assert ((a - b).norm() / a.norm()).item() < 0.05, f'{g}.{k}'
    assert c1['param_schedulers'] == c2['param_schedulers']


@cuda
def test_resume_across_modes_cuda(tmp_path, deterministic, make_image_set, train_tiny):
    """Checkpoints of a graphed run are plain; resuming it graphed is exact; resuming it
    eagerly, or an eager run graphed, loads and continues (close: the eager Adam
    rounds its bias corrections differently)."""
    data = make_image_set(str(tmp_path / 'data'), n_a=5, n_b=6, size=72)
    graphed = train_tiny(tmp_path / 'graphed', data, graph=True)
    mid = torch.load(tmp_path / 'graphed' / 'iter_3.pth', map_location='cpu',
                     weights_only=False)
    for g in ('generators', 'discriminators'):
        group = mid['optimizer'][g]['param_groups'][0]
        assert type(group['lr']) is float and group['capturable'] is False
        assert all(s['step'].device.type == 'cpu' for s in mid['optimizer'][g]['state'].values())
    assert all(type(v) is float for scheds in mid['param_schedulers'].values()
               for s in scheds for v in s['_last_value'] + s['base_values'])
    resumed_graphed = train_tiny(tmp_path / 'rg', data, True, tmp_path / 'graphed' / 'iter_3.pth')
    _compare_ckpts(graphed, resumed_graphed, exact=True)
    resumed_eager = train_tiny(tmp_path / 're', data, False, tmp_path / 'graphed' / 'iter_3.pth')
    _compare_ckpts(graphed, resumed_eager, exact=False)
    eager = train_tiny(tmp_path / 'eager', data, graph=False)
    eager_to_graph = train_tiny(tmp_path / 'eg', data, True, tmp_path / 'eager' / 'iter_3.pth')
    _compare_ckpts(eager, eager_to_graph, exact=False)
    log = open(glob.glob(str(tmp_path / 'eg' / '*' / '*.log'))[0]).read()
    assert 'cuda_graph: captured the train step' in log

"""The learning-rate schedule reproduces the official decay exactly."""
import pytest
import torch


def _lrs(total, steps, explicit=True):
    from mmengine.logging import MessageHub

    from nicegan_plugin.engine import NICEGANLinearDecayLR
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    hub = MessageHub.get_instance(f'sched-{total}-{explicit}')
    hub.update_info('max_iters', total)
    sched = NICEGANLinearDecayLR(opt, total_iters=total if explicit else None)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    return out


def _official(total, steps, lr=1e-4):
    """The official loop: lr -= lr / (iteration // 2) before each step > iteration // 2."""
    cur, out, half = lr, [], total // 2
    for step in range(1, steps + 1):
        if step > half:
            cur -= lr / half
        out.append(cur)
    return out


@pytest.mark.parametrize('total', [4, 6, 10, 100000])
def test_matches_official_decay(total):
    steps = min(total, 2000) if total < 1000 else 200
    ours, ref = _lrs(total, steps), _official(total, steps)
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-18)


def test_long_run_endpoints():
    ours = _lrs(100000, 100000)
    assert ours[49999] == 1e-4            # step 50000: still constant
    assert ours[50000] == pytest.approx(1e-4 * (1 - 1 / 50000), rel=1e-15)
    assert ours[-1] == pytest.approx(0.0, abs=1e-18)


def test_follows_max_iters_when_not_given():
    assert _lrs(10, 10, explicit=False) == pytest.approx(_official(10, 10), rel=1e-12)


def test_resume_state_is_exact():
    from nicegan_plugin.engine import NICEGANLinearDecayLR
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    sched = NICEGANLinearDecayLR(opt, total_iters=10)
    for _ in range(7):
        opt.step()
        sched.step()
    state = sched.state_dict()
    # the runner's resume order: build, then load optimizer, then scheduler state
    opt2 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    sched2 = NICEGANLinearDecayLR(opt2, total_iters=10)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    for _ in range(3):
        opt.step(), sched.step(), opt2.step(), sched2.step()
        assert opt.param_groups[0]['lr'] == opt2.param_groups[0]['lr']


def test_tensor_lr_is_updated_in_place_and_used_by_the_step():
    """CUDA-graph mode holds the lr in a 0-dim tensor that the captured step reads:
    the scheduler must write into that tensor (never replace it), and the optimizer
    step must use its value. With a constant gradient of 1, Adam's bias-corrected
    moments are exactly 1, so each step moves the parameter by lr / (1 + eps): the lr
    each step used is read back from the parameter and compared with the official
    decay and the closed form."""
    from nicegan_plugin.engine import NICEGANLinearDecayLR
    from nicegan_plugin.utils.cuda_graph import use_tensor_lrs
    total, eps = 10, 1e-8
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.Adam([p], lr=1e-4, betas=(0.5, 0.999), eps=eps, foreach=False)
    sched = NICEGANLinearDecayLR(opt, total_iters=total)
    (lr,) = use_tensor_lrs(opt)
    address, used = lr.data_ptr(), []
    for _ in range(total):
        before = p.detach().clone()
        opt.zero_grad()
        p.sum().backward()
        opt.step()
        used.append(((before - p.detach()) * (1 + eps)).item())
        sched.step()
        assert opt.param_groups[0]['lr'] is lr and lr.data_ptr() == address
    half = total // 2
    closed = [1e-4 * (1 - (s - half) / half if s > half else 1.0) for s in range(1, total + 1)]
    assert used == pytest.approx(_official(total, total), rel=1e-12, abs=1e-19)
    assert used == pytest.approx(closed, rel=1e-12, abs=1e-19)
    assert all(isinstance(v, float) for v in sched.get_last_value() + sched.base_values)


def test_tensor_lr_resume_writes_into_the_tensor():
    """Loading the scheduler state (resume) sets the next lr into the same tensor."""
    from nicegan_plugin.engine import NICEGANLinearDecayLR
    from nicegan_plugin.utils.cuda_graph import use_tensor_lrs
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    sched = NICEGANLinearDecayLR(opt, total_iters=10)
    for _ in range(7):
        opt.step()
        sched.step()
    opt2 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    sched2 = NICEGANLinearDecayLR(opt2, total_iters=10)
    (lr,) = use_tensor_lrs(opt2)
    sched2.load_state_dict(sched.state_dict())
    assert opt2.param_groups[0]['lr'] is lr
    assert lr.item() == pytest.approx(opt.param_groups[0]['lr'], rel=1e-7)  # float32 tensor
    assert sched2.state_dict() == sched.state_dict()

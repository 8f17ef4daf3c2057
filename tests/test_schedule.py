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

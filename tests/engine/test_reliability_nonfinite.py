"""Non-finite guard: a NaN/Inf loss stops training before anything is saved after it, the
checkpoint hook never writes non-finite weights, ``max_skips`` undoes bad iterations
exactly, and checkpoints with non-finite weights are refused on load."""
import os
import re

import pytest
import torch
from mmengine.hooks import Hook

pytestmark = pytest.mark.usefixtures('data_check_cache')

DIVERGE = {'optim_wrapper.generators.optimizer.lr': 1e6,
           'optim_wrapper.discriminators.optimizer.lr': 1e6}


class PoisonAt(Hook):
    """Fault: a NaN in one generator weight just before iteration ``step`` (1-based)."""
    priority = 'LOWEST'  # after the guard's snapshot

    def __init__(self, step):
        self.step = step

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.step:
            with torch.no_grad():
                next(runner.model.generators.parameters()).view(-1)[0] = float('nan')


class PoisonGradientAt(Hook):
    """Fault: iteration ``step``'s gradient of one generator weight is NaN. The G update
    comes last in an iteration, so the iteration's losses stay finite (a NaN in D's
    gradient would already show in the G losses of the same iteration)."""
    priority = 'LOWEST'

    def __init__(self, step):
        self.step, self.handle, self.name = step, None, None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.step:
            self.name, param = next(iter(runner.model.generators.named_parameters()))
            self.name = f'generators.{self.name}'
            self.handle = param.register_hook(lambda grad: grad * float('nan'))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.handle is not None:
            self.handle.remove()
            self.handle = None


def _checkpoints(work):
    return sorted(n for n in os.listdir(work) if n.endswith('.pth'))


@pytest.fixture(scope='module')
def photos(tmp_path_factory, make_photo_set):
    return make_photo_set(str(tmp_path_factory.mktemp('photos')))


def test_divergence_stops_at_the_iteration_and_saves_nothing(tmp_path, photos, make_tiny_runner):
    """The issue's reproduction (lr 1e6): stop, name the iteration and the loss terms."""
    from nicegan_plugin.engine.guards.nonfinite import NonFiniteError
    runner = make_tiny_runner(tmp_path / 'w', photos, **DIVERGE, **{
        'train_cfg.max_iters': 3, 'default_hooks.checkpoint.interval': 1})
    with pytest.raises(NonFiniteError) as info:
        runner.train()
    msg = str(info.value)
    assert 'non-finite loss at iteration 1: loss_' in msg, msg
    # which of NaN/Inf an lr of 1e6 gives first depends on the kernels; either must be named
    assert re.search(r'loss_\w+=(nan|-?inf)\b', msg), msg
    assert 'Last good checkpoint: none' in msg
    assert _checkpoints(tmp_path / 'w') == []
    assert not (tmp_path / 'w' / 'last_checkpoint').exists()


def test_a_nonfinite_gradient_stops_at_its_iteration(tmp_path, photos, make_tiny_runner):
    """Finite losses, NaN gradient: caught in the same iteration (through the parameters
    the update made NaN), named, nothing saved after it."""
    from nicegan_plugin.engine.guards.nonfinite import NonFiniteError
    runner = make_tiny_runner(tmp_path / 'w', photos, **{
        'train_cfg.max_iters': 3, 'default_hooks.checkpoint.interval': 1})
    poison = PoisonGradientAt(2)
    runner.register_hook(poison)
    with pytest.raises(NonFiniteError) as info:
        runner.train()
    msg = str(info.value)
    assert msg.startswith('non-finite gradient at iteration 2: its losses are finite'), msg
    assert poison.name in msg, msg
    assert f'Last good checkpoint: {tmp_path / "w" / "iter_1.pth"}' in msg
    assert _checkpoints(tmp_path / 'w') == ['iter_1.pth']


def test_checkpoint_hook_never_writes_nonfinite_weights(tmp_path, photos, make_tiny_runner):
    """Without the guard, the checkpoint hook still refuses to save NaN weights."""
    from nicegan_plugin.engine.guards.nonfinite import NonFiniteError
    runner = make_tiny_runner(tmp_path / 'w', photos, drop_hooks=['nonfinite'], **DIVERGE, **{
        'train_cfg.max_iters': 2, 'default_hooks.checkpoint.interval': 1})
    with pytest.raises(NonFiniteError, match=r'weights hold NaN/Inf at iteration 1 .*'
                       r'iter_1\.pth not saved'):
        runner.train()
    assert _checkpoints(tmp_path / 'w') == []


def test_stop_names_the_last_good_checkpoint(tmp_path, photos, make_tiny_runner):
    from nicegan_plugin.engine.guards.nonfinite import NonFiniteError
    runner = make_tiny_runner(tmp_path / 'w', photos, **{
        'train_cfg.max_iters': 3, 'default_hooks.checkpoint.interval': 1})
    runner.register_hook(PoisonAt(3))
    with pytest.raises(NonFiniteError, match='iteration 3') as info:
        runner.train()
    assert f'Last good checkpoint: {tmp_path / "w" / "iter_2.pth"}' in str(info.value)
    assert _checkpoints(tmp_path / 'w') == ['iter_1.pth', 'iter_2.pth']
    assert (tmp_path / 'w' / 'last_checkpoint').read_text() == 'iter_2.pth'


def test_max_skips_undoes_the_bad_iteration_exactly(tmp_path, photos, make_tiny_runner):
    """Iteration 3 poisoned and undone: the weights, buffers and Adam states saved after it
    are those saved after iteration 2, bit for bit, and they are finite."""
    runner = make_tiny_runner(tmp_path / 'w', photos, **{
        'train_cfg.max_iters': 3, 'default_hooks.checkpoint.interval': 1,
        'default_hooks.nonfinite.max_skips': 1})
    runner.register_hook(PoisonAt(3))
    runner.train()
    guard = [h for h in runner.hooks if type(h).__name__ == 'NICEGANNonFiniteGuardHook'][0]
    assert guard.skipped == [3]
    c2, c3 = (torch.load(tmp_path / 'w' / f'iter_{i}.pth', map_location='cpu')
              for i in (2, 3))
    for k, v in c2['state_dict'].items():
        assert torch.equal(c3['state_dict'][k], v), k
        assert not v.is_floating_point() or torch.isfinite(v).all(), k
    for group in ('generators', 'discriminators'):
        s2, s3 = c2['optimizer'][group]['state'], c3['optimizer'][group]['state']
        assert s2.keys() == s3.keys() and s2
        for i in s2:
            for key in ('exp_avg', 'exp_avg_sq', 'step'):
                assert torch.equal(torch.as_tensor(s3[i][key]), torch.as_tensor(s2[i][key]))


def test_checkpoints_with_nonfinite_weights_are_refused(tmp_path, tiny):
    from nicegan_plugin.engine.checkpointing.reading import read_state_dict
    _, ckpt, model = tiny
    state = {k: v.clone() for k, v in model.state_dict().items()}
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key].view(-1)[0] = float('inf')
    path = tmp_path / 'inf.pth'
    torch.save({'state_dict': state, 'meta': {}}, path)
    with pytest.raises(ValueError, match=f'holds NaN/Inf weights .*{key}'):
        read_state_dict(str(path))
    assert read_state_dict(ckpt).keys() == state.keys()  # a finite one loads


class AmplifyDiscriminatorsAt(Hook):
    """Fault: a finite divergence at iteration ``step``: the discriminators' heads output
    1e5 times their value (forward hooks), so the LSGAN losses reach ~1e10, finite."""
    priority = 'LOWEST'

    def __init__(self, step):
        self.step, self.handles = step, []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.step:
            for disc in runner.model.discriminators.values():
                for head in (disc.local_head, disc.global_head):
                    self.handles.append(head.register_forward_hook(
                        lambda module, args, out: out * 1e5))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        while self.handles:
            self.handles.pop().remove()


def test_max_loss_stops_a_finite_divergence_and_is_off_by_default(tmp_path, photos,
                                                                  make_tiny_runner):
    """Losses of ~1e10 stay finite (the message's branch says so: non-finite ones are named
    as such first): the bound catches them; without it (the default) nothing would."""
    from nicegan_plugin.engine.guards.nonfinite import NICEGANNonFiniteGuardHook, NonFiniteError
    runner = make_tiny_runner(tmp_path / 'w', photos, **{
        'train_cfg.max_iters': 2, 'default_hooks.checkpoint.interval': 1,
        'default_hooks.nonfinite.max_loss': 1e6})
    runner.register_hook(AmplifyDiscriminatorsAt(2))
    with pytest.raises(NonFiniteError) as info:
        runner.train()
    msg = str(info.value)
    assert msg.startswith('loss beyond max_loss=1e+06 at iteration 2 (diverging): loss_'), msg
    assert re.search(r'loss_\w+=\d(\.\d+)?e\+(0[7-9]|1\d)\b', msg), msg
    assert f'Last good checkpoint: {tmp_path / "w" / "iter_1.pth"}' in msg
    assert _checkpoints(tmp_path / 'w') == ['iter_1.pth']
    assert NICEGANNonFiniteGuardHook().max_loss is None  # off by default
    with pytest.raises(ValueError, match='max_loss must be a positive finite number'):
        NICEGANNonFiniteGuardHook(max_loss=float('inf'))

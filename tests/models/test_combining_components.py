"""NICE-GAN built from MMagic's other registered components, each in a short real run:
GANLoss(hinge) inside NICEGANAdversarialLoss, Charbonnier / MSE as the cycle /
reconstruction losses, MMagic's VisualizationHook and ExponentialMovingAverageHook
(``NICEGAN(ema=True)``)."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook


@pytest.fixture(scope='module')
def data_root(tmp_path_factory, make_image_set):
    return make_image_set(str(tmp_path_factory.mktemp('data')), n_a=3, n_b=3, size=72)


@pytest.fixture(scope='module')
def make_runner(tiny_paper_config):
    """``make_runner(tmp_path, data_root, name, model=None, custom_hooks=(), max_iters=2)``:
    a Runner of the shrunk paper config with ``model`` merged into its model section."""
    def make(tmp_path, data_root, name, model=None, custom_hooks=(), max_iters=2):
        from mmengine.runner import Runner
        cfg = tiny_paper_config(data_root)
        cfg.model.update(model or {})
        cfg.update(work_dir=str(tmp_path / name), experiment_name=f'{name}_{id(tmp_path)}',
                   custom_hooks=list(custom_hooks), log_level='WARNING')
        cfg.train_cfg.update(max_iters=max_iters, val_interval=10**6)
        cfg.default_hooks.checkpoint = None
        cfg.default_hooks.logger.interval = 1
        cfg.param_scheduler.total_iters = max_iters
        return Runner.from_cfg(cfg)
    return make


class _Recorder(Hook):
    """Copies of the named sub-modules' state (and the logged losses) after each iteration."""
    priority = 'LOWEST'

    def __init__(self, keys=()):
        self.keys, self.states, self.logs = keys, [], []

    def _snap(self, runner):
        model = runner.model
        return {k: {n: v.detach().clone() for n, v in getattr(model, k).state_dict().items()}
                for k in self.keys}

    def before_train(self, runner):
        self.states.append(self._snap(runner))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.states.append(self._snap(runner))
        self.logs.append({k: float(v) for k, v in (outputs or {}).items()})


def _real_batch(model, runner):
    data = next(iter(runner.val_dataloader))
    inputs = model.data_preprocessor(data, False)['inputs']
    return {d: inputs[f'img_{d}'] for d in model.domains}


def test_hinge_gan_loss_charbonnier_and_mse(tmp_path, data_root, make_runner):
    """MMagic's GANLoss(hinge) per head, CharbonnierLoss as the cycle loss and MSELoss as
    the reconstruction loss train a NICE-GAN; each term equals its textbook formula."""
    model_cfg = dict(
        adv_loss=dict(type='NICEGANAdversarialLoss', gan_type='hinge', loss_weight=1.0),
        cycle_loss=dict(type='CharbonnierLoss', loss_weight=10.0),
        recon_loss=dict(type='MSELoss', loss_weight=10.0))
    recorder = _Recorder(keys=('generators', 'discriminators'))
    runner = make_runner(tmp_path, data_root, 'hinge', model_cfg)
    runner.register_hook(recorder)
    runner.train()
    assert len(recorder.logs) == 2
    for log in recorder.logs:
        assert all(torch.isfinite(torch.tensor(v)) for v in log.values()), log
    # hinge generator terms are -mean(logit): negative values are possible, LSGAN's are not
    for key in ('generators', 'discriminators'):
        before, after = recorder.states[0][key], recorder.states[-1][key]
        assert any(not torch.equal(before[k], after[k]) for k in before), key

    model = runner.model.eval()  # eval: deterministic forwards (no power iterations)
    real = _real_batch(model, runner)
    gens, dis = model.generators, model.discriminators
    with torch.no_grad():
        _, log_d = model.discriminator_loss(real)
        _, log_g = model.generator_loss(real)
        for d in model.domains:
            o = model.other_domain(d)
            real_out = dis[d](real[d])
            fake_out = dis[d](gens[d](dis[o](real[o]).z))
            for head in ('global', 'cam', 'local'):
                r, f = getattr(real_out, f'{head}_logit'), getattr(fake_out, f'{head}_logit')
                hinge_d = F.relu(1 - r).mean() + F.relu(1 + f).mean()
                torch.testing.assert_close(log_d[f'loss_gan_d_{d}_{head}'], hinge_d)
                torch.testing.assert_close(log_g[f'loss_gan_g_{d}_{head}'], -f.mean())
            z = dis[d].encode(real[d])
            cycle = gens[d](dis[o](gens[o](z)).z)
            charbonnier = torch.sqrt((cycle - real[d]) ** 2 + 1e-12).mean()
            torch.testing.assert_close(log_g[f'loss_cycle_{d}'], 10 * charbonnier)
            torch.testing.assert_close(log_g[f'loss_recon_{d}'],
                                       10 * ((gens[d](z) - real[d]) ** 2).mean())


def test_ema_and_visualization_hooks(tmp_path, data_root, make_runner):
    """NICEGAN(ema=True) with MMagic's ExponentialMovingAverageHook and VisualizationHook:
    generators_ema follows the EMA recursion, eval-mode translations use it, MMagic's
    visualizer draws, and the checkpoint (with generators_ema) loads strictly."""
    momentum = 0.25
    hooks = [
        dict(type='ExponentialMovingAverageHook', module_keys=('generators_ema',),
             interp_cfg=dict(momentum=momentum), interval=1),
        dict(type='VisualizationHook', interval=1, n_samples=2,
             vis_kwargs_list=[dict(type='Translation', name='trans')]),
    ]
    recorder = _Recorder(keys=('generators', 'generators_ema'))
    runner = make_runner(tmp_path, data_root, 'ema', dict(ema=True), hooks, max_iters=2)
    runner.register_hook(recorder)
    runner.train()

    states = recorder.states
    assert len(states) == 3
    ema = states[0]['generators']  # the average starts at the initial weights
    for k, v in states[0]['generators_ema'].items():
        torch.testing.assert_close(v, ema[k], rtol=0, atol=0)
    for step in states[1:]:
        ema = {k: ema[k] + (v - ema[k]) * momentum if v.is_floating_point() else v
               for k, v in step['generators'].items()}
        for k, v in step['generators_ema'].items():
            torch.testing.assert_close(v, ema[k])
    assert any(not torch.allclose(states[-1]['generators'][k], v)
               for k, v in states[-1]['generators_ema'].items())
    # no optimizer holds the EMA copy: it does not learn on its own
    assert not any(p.requires_grad for p in runner.model.generators_ema.parameters())

    pngs = glob.glob(osp.join(runner.log_dir, '**', 'vis_image', 'trans_*.png'), recursive=True)
    assert len(pngs) == 2, pngs

    model = runner.model
    x = _real_batch(model, runner)['horse']
    model.eval()
    with torch.no_grad():
        z = model.encode(x, 'horse')
        out = model.translation(x, target_domain='zebra')
        torch.testing.assert_close(out, model.generators_ema['zebra'](z))
        assert not torch.allclose(out, model.generators['zebra'](z))
    model.train()  # training forwards use the trained generators
    assert model._get_target_generator('zebra') is model.generators['zebra']

    from nicegan_plugin.apis import load_model
    ckpt = str(tmp_path / 'ema.pth')
    runner.save_checkpoint(str(tmp_path), 'ema.pth')
    loaded = load_model(runner.cfg, ckpt)
    assert any(k.startswith('generators_ema.') for k in loaded.state_dict())
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k


def test_ema_is_off_by_default(tiny_paper_config):
    """The paper has no EMA: default NICE-GAN models and checkpoints have no EMA copy."""
    from mmagic.registry import MODELS
    model = MODELS.build(tiny_paper_config().model)
    assert model.generators_ema is None
    assert not any('ema' in k for k in model.state_dict())
    model.eval()
    assert model._get_target_generator('zebra') is model.generators['zebra']

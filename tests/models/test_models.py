"""Networks and the decoupled training step."""
import copy

import pytest
import torch


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_official():
    """Counts measured on the official networks (reference doc, section 2)."""
    from nicegan_plugin.models import NICEGANDiscriminator, NICEGANGenerator
    with torch.device('meta'):
        assert _count(NICEGANDiscriminator(3, 64, 7)) == 46_874_433
        assert _count(NICEGANDiscriminator(3, 64, 6)) == 11_724_353
        assert _count(NICEGANGenerator(3, 64, 6, 256, light=True)) == 8_104_640
        assert _count(NICEGANGenerator(3, 64, 4, 256, light=True)) == 5_743_296
        assert _count(NICEGANGenerator(3, 64, 6, 64, light=False)) == 24_816_320
        assert _count(NICEGANGenerator(3, 64, 6, 128, light=False)) == 75_147_968


@pytest.mark.parametrize('size,n_dis,local,glob', [(256, 7, 30, 6), (128, 7, 14, 2),
                                                    (96, 7, 10, 1), (64, 6, 14, 2)])
def test_discriminator_shapes(size, n_dis, local, glob):
    from nicegan_plugin.models import NICEGANDiscriminator
    d = NICEGANDiscriminator(3, 4, n_dis).eval()
    with torch.no_grad():
        out = d(torch.randn(2, 3, size, size))
    assert out.local_logit.shape == (2, 1, local, local)
    assert out.global_logit.shape == (2, 1, glob, glob)
    assert out.cam_logit.shape == (2, 1)
    assert out.heatmap.shape == (2, 1, size // 4, size // 4)
    assert out.z.shape == (2, 8, size // 4, size // 4)
    assert torch.equal(d.encode(torch.zeros(1, 3, size, size)),
                       d(torch.zeros(1, 3, size, size)).z)


def test_discriminator_rejects_small_inputs_clearly():
    from nicegan_plugin.models import NICEGANDiscriminator
    d = NICEGANDiscriminator(3, 4, 7)
    with pytest.raises(ValueError, match=r'at least 96x96'):
        d(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='num_layers >= 6'):
        NICEGANDiscriminator(3, 4, 5)


def test_generator_shapes_and_range():
    from nicegan_plugin.models import NICEGANGenerator
    for light in (True, False):
        g = NICEGANGenerator(3, 8, 2, img_size=64, light=light)
        out = g(torch.randn(2, 16, 16, 16))
        assert out.shape == (2, 3, 64, 64)
        assert out.abs().max() <= 1
    g = NICEGANGenerator(3, 8, 1, img_size=64, light=False)
    with pytest.raises(ValueError, match='img_size=64'):
        g(torch.randn(1, 16, 32, 32))


def test_norm_initial_values():
    from nicegan_plugin.models import ILN, AdaILN
    assert torch.allclose(torch.softmax(ILN(4).rho, 2)[0, 0], torch.tensor([0.0998, 0.9002]),
                          atol=1e-4)
    assert torch.allclose(torch.softmax(AdaILN(4).rho, 2)[0, 0],
                          torch.tensor([0.9002, 0.0998]), atol=1e-4)


def test_spectral_norm_iterates_only_in_train_mode():
    from nicegan_plugin.models import NICEGANDiscriminator
    d = NICEGANDiscriminator(3, 4, 6)
    u = d.local_head.parametrizations.weight[0]._u
    before = u.clone()
    d.eval()
    with torch.no_grad():
        d(torch.randn(1, 3, 64, 64))
    assert torch.equal(u, before)
    d.train()
    # encode + advance == a full forward, for the state of every SN layer
    d2 = copy.deepcopy(d)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        d(x)
        d2.encode(x)
        d2.advance_head_power_iterations()
    for (k, a), b in zip(d.state_dict().items(), d2.state_dict().values()):
        assert torch.equal(a, b), k


def _build(cfg):
    from mmagic.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    optim = build_optim_wrapper(model, dict(
        constructor='MultiOptimWrapperConstructor',
        generators=dict(optimizer=dict(type='Adam', lr=1e-3, betas=(0.5, 0.999),
                                       weight_decay=1e-4)),
        discriminators=dict(optimizer=dict(type='Adam', lr=1e-3, betas=(0.5, 0.999),
                                           weight_decay=1e-4))))
    return model, optim


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_decoupled_updates(tiny_model_cfg):
    """D step changes only D (encoder included), G step only G; D frozen in G step."""
    model, optim = _build(tiny_model_cfg())
    real = {'A': torch.rand(2, 3, 64, 64) * 2 - 1, 'B': torch.rand(2, 3, 64, 64) * 2 - 1}
    s0_g, s0_d = _snapshot(model.generators), _snapshot(model.discriminators)
    seen = {}
    g_step = optim['generators'].step

    def recording_step(*args, **kwargs):
        seen['g'] = _snapshot(model.generators)
        seen['d'] = _snapshot(model.discriminators)
        seen['d_grads'] = [p.grad for p in model.discriminators.parameters()]
        seen['d_requires_grad'] = [p.requires_grad for p in model.discriminators.parameters()]
        return g_step(*args, **kwargs)
    optim['generators'].step = recording_step
    log = model.train_on_batch(real, optim)
    s2_g, s2_d = _snapshot(model.generators), _snapshot(model.discriminators)
    assert _same(s0_g, seen['g']), 'the D update changed a generator'
    assert not _same(s0_d, seen['d']), 'the D update did not change the discriminators'
    enc = {k: v for k, v in s0_d.items() if '.encoder.' in k}
    assert enc and not _same(enc, {k: seen['d'][k] for k in enc}), 'encoder not trained by D'
    assert _same(seen['d'], s2_d), 'the G update changed a discriminator/encoder'
    assert not _same(seen['g'], s2_g), 'the G update did not change the generators'
    assert all(g is None for g in seen['d_grads']), 'D parameters took gradients in the G step'
    assert not any(seen['d_requires_grad'])
    assert all(p.requires_grad for p in model.discriminators.parameters()), 'not restored'
    for key in ('loss_gan_d_A_local', 'loss_gan_d_B_cam', 'loss_gan_g_A_global',
                'loss_cycle_B', 'loss_recon_A', 'loss_d', 'loss_g'):
        assert torch.isfinite(log[key])


def test_loss_weights_come_from_config(tiny_model_cfg):
    cfg = tiny_model_cfg()
    cfg.update(adv_loss=dict(type='NICEGANAdversarialLoss', loss_weight=2.0),
               cycle_loss=dict(type='L1Loss', loss_weight=3.0),
               recon_loss=dict(type='L1Loss', loss_weight=0.0))
    model, optim = _build(cfg)
    ref_model, _ = _build(tiny_model_cfg())
    real = {'A': torch.rand(1, 3, 64, 64) * 2 - 1, 'B': torch.rand(1, 3, 64, 64) * 2 - 1}
    with torch.no_grad():
        _, log = model.discriminator_loss(real)
        _, ref = ref_model.discriminator_loss(real)
    assert torch.allclose(log['loss_gan_d_A_local'], 2 * ref['loss_gan_d_A_local'])
    _, log_g = model.generator_loss(real)
    assert log_g['loss_recon_A'] == 0


def test_translation_and_val_step_outputs(tiny_model_cfg):
    from mmagic.structures import DataSample
    model, _ = _build(tiny_model_cfg())
    model.eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        y = model.translation(x, target_domain='B')
        ref = model.generators['B'](model.discriminators['A'].encode(x))
        via_forward = model(x, test_mode=True, target_domain='B')['target']
    assert torch.equal(y, ref) and torch.equal(via_forward, y)
    imgs = (torch.rand(2, 3, 64, 64) * 255).round()
    data = dict(inputs={'img_A': list(imgs), 'img_B': list(imgs.flip(0))},
                data_samples=[DataSample(), DataSample()])
    out = model.val_step(data)
    assert len(out) == 2
    for s in out:
        assert s.fake_A.shape == (3, 64, 64) and s.fake_B.shape == (3, 64, 64)
        assert 0 <= s.fake_B.min() and s.fake_B.max() <= 255


def test_other_registered_modules_with_the_same_interface(tiny_model_cfg):
    """generator/discriminator configs may name any module with the documented interface."""
    import torch.nn as nn
    from mmagic.registry import MODELS

    from nicegan_plugin.models import NICEGANDiscriminator

    @MODELS.register_module(force=True)
    class TinyDecoder(nn.Module):
        """z (B, 2ch, h, w) -> image (B, 3, 4h, 4w)."""

        def __init__(self, in_channels: int = 16):
            super().__init__()
            self.net = nn.Sequential(nn.Upsample(scale_factor=4),
                                     nn.Conv2d(in_channels, 3, 3, padding=1), nn.Tanh())

        def forward(self, z):
            return self.net(z)

    @MODELS.register_module(force=True)
    class LocalOnlyDiscriminator(NICEGANDiscriminator):
        """Same interface, different heads: the global logit reuses the local one."""

        def forward(self, x):
            out = super().forward(x)
            return out._replace(global_logit=out.local_logit)

    cfg = tiny_model_cfg()
    cfg['generator'] = dict(type='TinyDecoder', in_channels=16)
    cfg['discriminator'] = dict(type='LocalOnlyDiscriminator', base_channels=8, num_layers=6)
    model, optim = _build(cfg)
    assert isinstance(model.generators['A'], TinyDecoder)
    real = {'A': torch.rand(1, 3, 64, 64) * 2 - 1, 'B': torch.rand(1, 3, 64, 64) * 2 - 1}
    before = _snapshot(model.generators)
    log = model.train_on_batch(real, optim)
    assert torch.equal(log['loss_gan_d_A_global'], log['loss_gan_d_A_local'])
    assert not _same(before, _snapshot(model.generators))

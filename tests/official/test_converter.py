"""Official <-> plugin checkpoint conversion."""
import subprocess
import sys

import pytest
import torch


@pytest.fixture(scope='module')
def load_official(fixture_dir):
    """``load_official(name)``: the official checkpoint of a parity fixture (a fresh dict)."""
    return lambda name: torch.load(f'{fixture_dir(name)}/official_params_init.pt',
                                   weights_only=True)


@pytest.mark.parametrize('name,light,ch,n_res,n_dis,size', [
    ('light_ch3_64px', True, 3, 2, 6, 256), ('full_ch2_64px', False, 2, 1, 6, 64)])
def test_infers_architecture(name, light, ch, n_res, n_dis, size, load_official):
    from nicegan_plugin.official.converter import infer_config
    arch = infer_config(load_official(name))
    assert (arch['light'], arch['ch'], arch['n_res'], arch['n_dis'], arch['img_size']) == \
        (light, ch, n_res, n_dis, size)


@pytest.mark.parametrize('name', ['light_ch3_64px', 'full_ch2_64px'])
def test_round_trip_official_plugin_official(name, load_official):
    from nicegan_plugin.official.converter import official_to_plugin, plugin_to_official
    src = load_official(name)
    plugin, cfg = official_to_plugin(src, 'cat', 'dog')
    assert cfg['reachable_domains'] == ['cat', 'dog']
    assert any(k.startswith('generators.dog.') for k in plugin['state_dict'])
    back = plugin_to_official(plugin, 'cat', 'dog')
    for net in ('gen2B', 'gen2A', 'disA', 'disB'):
        ref = {k: v for k, v in src[net].items() if not k.endswith(('total_ops', 'total_params'))}
        assert list(back[net]) == list(ref), f'{net}: official key order not reproduced'
        for k, v in ref.items():
            assert torch.equal(back[net][k], v), (net, k)
    assert back['start_iter'] == src['start_iter']
    for opt in ('G_optimizer', 'D_optimizer'):
        assert len(back[opt]['param_groups'][0]['params']) == \
            len(src[opt]['param_groups'][0]['params'])


def test_optimizer_state_round_trip_after_training(load_official):
    """Adam moments follow their parameters through both conversions."""
    from mmagic.registry import MODELS
    from mmengine.optim import build_optim_wrapper

    from nicegan_plugin.official.converter import official_to_plugin, plugin_to_official
    plugin, cfg = official_to_plugin(load_official('light_ch3_64px'))
    model = MODELS.build(cfg)
    model.load_state_dict(plugin['state_dict'])
    optim = build_optim_wrapper(model, dict(
        constructor='MultiOptimWrapperConstructor',
        generators=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999))),
        discriminators=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999)))))
    real = {d: torch.rand(1, 3, 64, 64) * 2 - 1 for d in ('A', 'B')}
    model.train_on_batch(real, optim)
    ckpt = {'state_dict': model.state_dict(), 'meta': {'iter': 1},
            'optimizer': optim.state_dict()}
    official = plugin_to_official(ckpt)
    again, _ = official_to_plugin(official)
    for group in ('generators', 'discriminators'):
        a, b = ckpt['optimizer'][group]['state'], again['optimizer'][group]['state']
        assert set(a) == set(b)
        for i in a:
            for k in ('exp_avg', 'exp_avg_sq'):
                assert torch.equal(a[i][k], b[i][k])
    # moment i belongs to parameter i: shapes agree in the official file too
    params = [p for n in ('gen2B', 'gen2A') for k, p in official[n].items()]
    g_state = official['G_optimizer']['state']
    assert all(g_state[i]['exp_avg'].shape == params[i].shape for i in g_state)


def test_refusals(load_official):
    from nicegan_plugin.official.converter import (
        ConversionError,
        official_to_plugin,
        plugin_to_official,
    )
    src = load_official('light_ch3_64px')
    with pytest.raises(ConversionError, match='not an official NICE-GAN checkpoint'):
        official_to_plugin({'state_dict': {}})
    bad = dict(src, disA=dict(src['disA'], extra_layer=torch.zeros(1)))
    with pytest.raises(ConversionError, match='unexpected.*extra_layer'):
        official_to_plugin(bad)
    bad = dict(src, disB={k: v for k, v in src['disB'].items() if k != 'lamda'})
    with pytest.raises(ConversionError, match='missing.*lamda'):
        official_to_plugin(bad)
    bad = dict(src, gen2A=dict(src['gen2A'], **{'UpBlock0.1.bias': torch.zeros(7)}))
    with pytest.raises(ConversionError, match='shapes'):
        official_to_plugin(bad)
    with pytest.raises(ConversionError, match='not a NICE-GAN plugin checkpoint'):
        plugin_to_official({'state_dict': {'x': torch.zeros(1)}})


def test_cli_writes_loadable_checkpoint_and_config(tmp_path, project_root, fixture_dir):
    from mmagic.apis import init_model

    from nicegan_plugin.official.fixture import load_inputs
    fixture = fixture_dir('full_ch2_64px')
    dst = tmp_path / 'c2d.pth'
    proc = subprocess.run([sys.executable, 'tools/convert_official_checkpoint.py',
                           f'{fixture}/official_params_init.pt', str(dst),
                           '--domain-a', 'cat', '--domain-b', 'dog'],
                          cwd=project_root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'c2d.py').is_file()
    model = init_model(str(tmp_path / 'c2d.py'), str(dst), device='cpu')
    expected = torch.load(f'{fixture}/expected_eval.pt', weights_only=True)
    real_a = load_inputs(fixture)['real_A'][0][:len(expected['fake_A2B'])]
    with torch.no_grad():
        out = model.translation(real_a.float(), target_domain='dog')
    assert torch.allclose(out.double(), expected['fake_A2B'], atol=1e-5)
    back = tmp_path / 'back.pt'
    proc = subprocess.run([sys.executable, 'tools/convert_official_checkpoint.py', str(dst),
                           str(back), '--to-official'], cwd=project_root,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert set(torch.load(back, weights_only=True)) >= {'gen2B', 'gen2A', 'disA', 'disB'}


def test_cli_refuses_non_checkpoint(tmp_path, project_root):
    junk = tmp_path / 'junk.pt'
    junk.write_bytes(b'not a checkpoint')
    proc = subprocess.run([sys.executable, 'tools/convert_official_checkpoint.py', str(junk),
                           str(tmp_path / 'o.pth')], cwd=project_root,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and 'junk.pt' in proc.stderr
    torch.save({'foo': torch.zeros(1)}, tmp_path / 'other.pt')
    proc = subprocess.run([sys.executable, 'tools/convert_official_checkpoint.py',
                           str(tmp_path / 'other.pt'), str(tmp_path / 'o.pth')],
                          cwd=project_root, capture_output=True, text=True)
    assert proc.returncode == 1 and 'not an official NICE-GAN checkpoint' in proc.stderr


@pytest.mark.parametrize('n_dis,light,size', [(7, True, 96), (8, True, 192), (7, False, 96)])
def test_round_trip_other_architectures(n_dis, light, size, tiny_model_cfg):
    """plugin -> official -> plugin for n_dis 7/8 (non-empty shared trunk) and full G."""
    from mmagic.registry import MODELS

    from nicegan_plugin.official.converter import (
        infer_config,
        official_to_plugin,
        plugin_to_official,
    )
    cfg = tiny_model_cfg(img_size=size, light=light)
    cfg['discriminator']['num_layers'] = n_dis
    model = MODELS.build(cfg)
    official = plugin_to_official({'state_dict': model.state_dict(), 'meta': {'iter': 7}})
    assert any(k.startswith('Dis0_0.') for k in official['disA'])
    arch = infer_config(official, img_size=None if not light else size)
    assert (arch['n_dis'], arch['light'], arch['img_size'], arch['ch']) == \
        (n_dis, light, size, 8)
    back, back_cfg = official_to_plugin(official, 'A', 'B', None if not light else size)
    assert back['meta']['iter'] == 7
    for k, v in model.state_dict().items():
        assert torch.equal(back['state_dict'][k], v), k
    rebuilt = MODELS.build(back_cfg)
    rebuilt.load_state_dict(back['state_dict'])
    x = torch.rand(1, 3, size, size) * 2 - 1
    model.eval(), rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(model.translation(x, target_domain='B'),
                           rebuilt.translation(x, target_domain='B'))

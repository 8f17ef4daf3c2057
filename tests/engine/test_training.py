"""The OpenMMLab workflow: configs, train/test tools, exact resume, distributed runs."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

#: the toy day/night config, relative to the project root
TOY = osp.join('configs', 'nicegan', 'nicegan_light-tiny_1xb4-600iters_toy-day2night.py')


@pytest.mark.config_files('configs/*.py', 'configs/nicegan/*.py')
def test_config_loads_and_builds(config_path, tmp_path, make_image_set):
    """Config.fromfile + MODELS.build (on the meta device) + the datasets on a tiny set."""
    from mmagic.registry import DATASETS, MODELS
    from mmengine.config import Config

    from nicegan_plugin.engine import derive_keys
    cfg = derive_keys(Config.fromfile(config_path))
    assert cfg.default_scope == 'mmagic'
    assert 'nicegan_plugin' in cfg.custom_imports.imports
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert set(model.generators) == set(cfg.model.reachable_domains)
    size = cfg.model.generator.img_size
    root = make_image_set(str(tmp_path), n_a=2, n_b=3, size=size + 40)
    for split in ('train_dataloader', 'test_dataloader'):
        ds_cfg = cfg[split].dataset.copy()
        ds_cfg.data_root = root
        sample = DATASETS.build(ds_cfg)[0]
        a, b = cfg.model.reachable_domains
        assert sample['inputs'][f'img_{a}'].shape == (3, size, size)
        assert sample['inputs'][f'img_{b}'].shape == (3, size, size)
    if 'light_1xb1-100kiters' in config_path:  # the paper's settings
        assert cfg.train_cfg.max_iters == 100000 and cfg.train_dataloader.batch_size == 1
        assert cfg.model.generator.light and cfg.model.generator.num_blocks == 6
        assert cfg.model.discriminator.num_layers == 7 and size == 256
        assert cfg.optim_wrapper.generators.optimizer.lr == 1e-4


def _run(cmd, cwd, **kw):
    """``cmd`` run in ``cwd`` (the project root); fails the test on a non-zero exit."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


def test_train_then_test_tools(tmp_path, project_root, tiny_config, make_image_set,
                               data_root_args):
    data = make_image_set(str(tmp_path / 'data'), n_a=3, n_b=4, size=64)
    work = tmp_path / 'work'
    proc = _run([sys.executable, 'tools/train.py', tiny_config, '--work-dir', str(work),
                 '--cfg-options', *data_root_args(data)], project_root)
    log = proc.stdout + proc.stderr
    for key in ('loss_gan_d_horse_local', 'loss_cycle_zebra', 'loss_recon_horse',
                'generators.lr', 'discriminators.lr'):
        assert key in log, key
    ckpt = work / 'iter_4.pth'
    assert ckpt.is_file()
    out = tmp_path / 'metrics.json'
    _run([sys.executable, 'tools/test.py', tiny_config, str(ckpt), '--work-dir',
          str(tmp_path / 't'), '--out', str(out), '--cfg-options', *data_root_args(data)],
         project_root)
    assert out.is_file()
    fakes_b = sorted(os.listdir(tmp_path / 't' / 'translations' / 'fake_zebra'))
    fakes_a = sorted(os.listdir(tmp_path / 't' / 'translations' / 'fake_horse'))
    assert fakes_b == sorted(os.listdir(osp.join(data, 'testA')))  # names kept
    assert fakes_a == sorted(os.listdir(osp.join(data, 'testB')))


def _state(path):
    return torch.load(path, map_location='cpu')


def _assert_same_checkpoint(p1, p2, rtol=0.0, atol=0.0):
    c1, c2 = _state(p1), _state(p2)
    for k, v in c1['state_dict'].items():
        torch.testing.assert_close(c2['state_dict'][k], v, rtol=rtol, atol=atol, msg=k)
    for group in ('generators', 'discriminators'):
        s1, s2 = c1['optimizer'][group], c2['optimizer'][group]
        assert s1['param_groups'][0]['lr'] == s2['param_groups'][0]['lr']
        for i, st in s1['state'].items():
            for k in ('exp_avg', 'exp_avg_sq'):
                torch.testing.assert_close(s2['state'][i][k], st[k], rtol=rtol, atol=atol)
    return c1, c2


class _Interrupt(Exception):
    pass


def test_resume_is_exact(tmp_path, project_root, make_image_set, make_tiny_runner):
    """Stop after 3 of 6 iterations, resume: same weights, Adam state, lr, SN buffers."""
    from mmengine.hooks import Hook
    data = make_image_set(str(tmp_path / 'data'), n_a=5, n_b=6, size=72)
    toy = osp.join(project_root, TOY)
    # no validation: the toy config's FID/KID expect its own 8 + 8 test images
    common = {'train_cfg.max_iters': 6, 'default_hooks.checkpoint.interval': 3,
              'default_hooks.checkpoint.save_best': None, 'val_evaluator.metrics': [],
              'custom_hooks': [], 'train_dataloader.batch_size': 2}

    class StopAt3(Hook):
        priority = 'LOWEST'  # after CheckpointHook has written iter_3.pth

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == 3:
                raise _Interrupt

    straight = make_tiny_runner(tmp_path / 'straight', data, config=toy, **common)
    straight.train()
    first = make_tiny_runner(tmp_path / 'resumed', data, config=toy, **common)
    first.register_hook(StopAt3())
    with pytest.raises(_Interrupt):
        first.train()
    assert (tmp_path / 'resumed' / 'iter_3.pth').is_file()
    second = make_tiny_runner(tmp_path / 'resumed', data, config=toy, resume=True, **common)
    second.train()
    c1, c2 = _assert_same_checkpoint(tmp_path / 'straight' / 'iter_6.pth',
                                     tmp_path / 'resumed' / 'iter_6.pth')
    sn = [k for k in c1['state_dict'] if k.endswith('._u')]
    assert sn, 'spectral-norm buffers missing from the checkpoint'
    assert c1['param_schedulers'] == c2['param_schedulers']


def _scalars(work_dir):
    path = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0]
    rows = [json.loads(line) for line in open(path)]
    return [r for r in rows if 'loss_d' in r]  # training iterations only


def test_distributed_matches_single_process(tmp_path, project_root, tiny_config_file,
                                            make_image_set, data_root_args):
    """2 CPU processes x batch 1 (gloo) == 1 process x batch 2, through dist_train.sh.

    SGD (linear in the gradients) makes a wrong gradient reduction (sum instead of
    mean, a missing or extra all-reduce) show at once; Adam would hide most of it.
    """
    data = make_image_set(str(tmp_path / 'data'), n_a=4, n_b=4, size=64)
    sgd_cfg = tiny_config_file('tiny_h2z_sgd')
    env = dict(os.environ, PORT=str(29500 + os.getpid() % 1000), OMP_NUM_THREADS='1')
    _run(['bash', 'tools/dist_train.sh', sgd_cfg, '2', '--work-dir', str(tmp_path / 'dist'),
          '--cfg-options', *data_root_args(data)], project_root, env=env, timeout=600)
    _run([sys.executable, 'tools/train.py', sgd_cfg, '--work-dir', str(tmp_path / 'single'),
          '--cfg-options', 'train_dataloader.batch_size=2', *data_root_args(data)],
         project_root, timeout=600)
    c1 = _state(tmp_path / 'single' / 'iter_4.pth')['state_dict']
    c2 = _state(tmp_path / 'dist' / 'iter_4.pth')['state_dict']
    init = _state(tmp_path / 'single' / 'iter_2.pth')['state_dict']
    moved = max((c1[k] - init[k]).abs().max().item() for k in c1)
    assert moved > 1e-4, 'weights did not move: the comparison would be vacuous'
    # float32 sums run in another order (batch 2 vs 2 x batch 1) and the GAN updates amplify
    # that, depending on the images (up to 9e-5 of `moved` measured on the training split);
    # a wrong reduction changes the updates by 50-100 %
    for k, v in c1.items():
        torch.testing.assert_close(c2[k], v, rtol=1e-4, atol=max(1e-5, 1e-3 * moved), msg=k)
    single, dist = _scalars(tmp_path / 'single'), _scalars(tmp_path / 'dist')
    assert len(single) == len(dist) == 4
    for s, d in zip(single, dist):
        for key in ('loss_d', 'loss_g', 'loss_cycle_horse', 'loss_gan_d_zebra_cam'):
            assert d[key] == pytest.approx(s[key], rel=1e-4), (s['step'], key)
    log = open(glob.glob(str(tmp_path / 'dist' / '*' / '*.log'))[0]).read()
    assert "backend='gloo'" in log or "'backend': 'gloo'" in log


def test_amp_switches_both_optimizer_wrappers(project_root):
    from mmengine.config import Config

    from nicegan_plugin.engine.launch.runner_setup import enable_amp
    cfg = Config.fromfile(osp.join(project_root, 'configs', 'nicegan_h2z.py'))
    enable_amp(cfg)
    for group in ('generators', 'discriminators'):
        assert cfg.optim_wrapper[group].type == 'AmpOptimWrapper'
        assert cfg.optim_wrapper[group].loss_scale == 'dynamic'


def _convert_fixture(fixture, tmp_path, start_iter, lr, domains=('horse', 'zebra')):
    """The official checkpoint of the parity fixture folder ``fixture``, saved after
    ``start_iter`` steps at ``lr``, converted for ``domains``; the converted file."""
    from nicegan_plugin.official.converter import official_to_plugin
    src = torch.load(f'{fixture}/official_params_init.pt', weights_only=True)
    src['start_iter'] = start_iter
    for opt in ('G_optimizer', 'D_optimizer'):
        src[opt]['param_groups'][0]['lr'] = lr
    ckpt, _ = official_to_plugin(src, *domains)
    path = tmp_path / f'converted_{"_".join(domains)}.pth'
    torch.save(ckpt, path)
    return path


LIGHT64 = ['model.generator.base_channels=3', 'model.generator.num_blocks=2',
           'model.discriminator.base_channels=3']  # the light_ch3_64px fixture's networks


def test_resume_from_converted_official_checkpoint_continues_the_decay(
        tmp_path, project_root, tiny_config, fixture_dir, make_image_set, data_root_args):
    """--resume on a converted official checkpoint saved after step 60: the next steps
    use the official lr of steps 61..63 for a 63-step run (H = 31), not a restarted
    schedule nor the lr stored in the official optimizer."""
    data = make_image_set(str(tmp_path / 'data'), n_a=2, n_b=2, size=64)
    ckpt = _convert_fixture(fixture_dir('light_ch3_64px'), tmp_path, start_iter=60, lr=8e-5)
    work = tmp_path / 'work'
    _run([sys.executable, 'tools/train.py', tiny_config, '--work-dir', str(work), '--resume',
          str(ckpt), '--cfg-options', 'train_cfg.max_iters=63',
          'default_hooks.checkpoint.interval=100', *LIGHT64, *data_root_args(data)],
         project_root)
    rows = _scalars(work)
    assert [r['step'] for r in rows] == [61, 62, 63]
    half = 63 // 2
    for row in rows:
        expected = 1e-4 * (1 - (row['step'] - half) / half)
        assert row['generators.lr'] == pytest.approx(expected, abs=1e-12)
        assert row['discriminators.lr'] == pytest.approx(expected, abs=1e-12)


def test_tools_refuse_checkpoints_of_another_model(tmp_path, project_root, tiny_config,
                                                   fixture_dir, make_image_set, data_root_args):
    """MMEngine loads checkpoints non-strictly; the tools stop with a clear message."""
    data = make_image_set(str(tmp_path / 'data'), n_a=2, n_b=2, size=64)
    light64 = fixture_dir('light_ch3_64px')
    wrong_domains = _convert_fixture(light64, tmp_path, 0, 1e-4, domains=('cat', 'dog'))
    for cmd in ([sys.executable, 'tools/test.py', tiny_config, str(wrong_domains)],
                [sys.executable, 'tools/train.py', tiny_config, '--resume', str(wrong_domains)]):
        proc = subprocess.run(cmd + ['--work-dir', str(tmp_path / 'w'), '--cfg-options',
                                     *LIGHT64, *data_root_args(data)],
                              cwd=project_root, capture_output=True, text=True)
        assert proc.returncode != 0
        assert "is for domains ['cat', 'dog']" in proc.stderr, proc.stderr[-2000:]
    right = _convert_fixture(light64, tmp_path, 0, 1e-4)
    proc = subprocess.run([sys.executable, 'tools/test.py', tiny_config, str(right),
                           '--work-dir', str(tmp_path / 'w2'), '--cfg-options',
                           *data_root_args(data)],
                          cwd=project_root, capture_output=True, text=True)  # tiny: ch 8, not 3
    assert proc.returncode != 0 and 'shape mismatches' in proc.stderr, proc.stderr[-2000:]

"""MMagic's CycleGAN as a baseline on NICE-GAN's data, metrics and tools: the init_weights
fix, the baseline configs, --amp, tools/train.py + tools/test.py, and the comparison."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import torch

#: the toy day/night configs, relative to the project root
TOY_CYCLEGAN = osp.join('configs', 'baselines',
                        'cyclegan_lsgan-resnet-in-tiny_1xb4-600iters_toy-day2night.py')
TOY_NICEGAN = osp.join('configs', 'nicegan', 'nicegan_light-tiny_1xb4-600iters_toy-day2night.py')


def _nicegan_of(baseline: str) -> str:
    """The NICE-GAN config whose data/metrics/runtime the baseline config reuses."""
    configs = osp.dirname(osp.dirname(baseline))
    return osp.join(configs, 'nicegan', osp.basename(baseline).replace(
        'cyclegan_lsgan-resnet-in-tiny_1xb4', 'nicegan_light-tiny_1xb4').replace(
        'cyclegan_lsgan-resnet-in_', 'nicegan_light_'))


def _cyclegan_cfg(generator='NICEGANFixedInitResnetGenerator',
                  discriminator='NICEGANFixedInitPatchDiscriminator'):
    return dict(
        type='CycleGAN',
        data_preprocessor=dict(type='DataPreprocessor', data_keys=['img_a', 'img_b']),
        generator=dict(type=generator, in_channels=3, out_channels=3, base_channels=8,
                       norm_cfg=dict(type='IN'), use_dropout=False, num_blocks=1,
                       padding_mode='reflect', init_cfg=dict(type='normal', gain=0.02)),
        discriminator=dict(type=discriminator, in_channels=3, base_channels=8, num_conv=2,
                           norm_cfg=dict(type='IN'), init_cfg=dict(type='normal', gain=0.02)),
        default_domain='b', reachable_domains=['a', 'b'], related_domains=['a', 'b'])


def test_mmagic_cyclegan_init_weights_bug_and_fix():
    """MMagic 1.2's own networks crash inside CycleGAN.init_weights (if this stops raising,
    MMagic fixed it and the NICEGANFixedInit* networks can go); the fixed ones initialise
    exactly as MMagic's init_weights does when it works (a network on its own)."""
    from mmagic.models.archs import PatchDiscriminator
    from mmagic.models.editors.cyclegan import ResnetGenerator
    from mmagic.registry import MODELS
    broken = MODELS.build(_cyclegan_cfg('ResnetGenerator', 'PatchDiscriminator'))
    with pytest.raises(UnboundLocalError, match='init_info'):
        broken.init_weights()

    torch.manual_seed(0)
    fixed = MODELS.build(_cyclegan_cfg())
    fixed.init_weights()
    torch.manual_seed(0)
    reference = MODELS.build(_cyclegan_cfg())
    for d in ('a', 'b'):  # BaseTranslationModel's order, MMagic's methods, no shared info
        ResnetGenerator.init_weights(reference.generators[d])
        PatchDiscriminator.init_weights(reference.discriminators[d])
    ref_state = reference.state_dict()
    for k, v in fixed.state_dict().items():
        assert torch.equal(v, ref_state[k]), k
    # N(0, 0.02) convolutions, not PyTorch's default init
    w = fixed.generators['a'].model[1].conv.weight
    assert 0.015 < w.std().item() < 0.025
    assert not hasattr(fixed.generators['a'], '_params_init_info')  # cleaned up as usual


@pytest.mark.config_files('configs/baselines/*.py')
def test_baseline_configs_reuse_nicegan_settings(config_path):
    """Each baseline is MMagic's CycleGAN with exactly its NICE-GAN config's data,
    preprocessor, metrics, checkpoints, schedule and runtime; --amp switches both wrappers."""
    from mmagic.registry import MODELS
    from mmengine.config import Config

    from nicegan_plugin.engine import derive_keys
    from nicegan_plugin.engine.launch.runner_setup import enable_amp
    cfg, nice = (derive_keys(Config.fromfile(p)) for p in (config_path, _nicegan_of(config_path)))
    assert cfg.model.type == 'CycleGAN'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
                'test_evaluator', 'default_hooks', 'train_cfg', 'param_scheduler', 'env_cfg',
                'randomness', 'val_cfg', 'test_cfg', 'custom_imports', 'default_scope'):
        assert cfg[key] == nice[key], key
    for key in ('data_preprocessor', 'default_domain', 'reachable_domains', 'related_domains'):
        assert cfg.model[key] == nice.model[key], key
    assert cfg.model_wrapper_cfg.type == 'mmagic.NICEGANGradSyncWrapper'
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert set(model.generators) == set(nice.model.reachable_domains)
    enable_amp(cfg)
    assert [cfg.optim_wrapper[k].type for k in ('generators', 'discriminators')] == \
        ['AmpOptimWrapper'] * 2


def _toy_cfg(path, data_root, work_dir):
    """The toy CycleGAN config at ``path``, tiny networks, 2 iterations, no metrics."""
    from mmengine.config import Config

    from nicegan_plugin.engine import derive_keys
    cfg = derive_keys(Config.fromfile(path))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root
    cfg.train_dataloader.batch_size = 2
    cfg.model.generator.update(base_channels=8, num_blocks=1)
    cfg.model.discriminator.update(base_channels=8)
    cfg.train_cfg.max_iters = cfg.param_scheduler.total_iters = 2
    cfg.update(work_dir=work_dir, custom_hooks=[], log_level='WARNING',
               experiment_name=f'amp_{id(cfg)}')
    cfg.val_evaluator.metrics = []
    cfg.default_hooks.checkpoint = None
    return cfg


def test_cyclegan_train_step_honours_amp_optim_wrappers(tmp_path, project_root, make_image_set):
    """With the AmpOptimWrappers --amp sets (bf16 on CPU; MMEngine allows the wrapper only
    on a GPU, so its device check is bypassed here), CycleGAN's train step runs its
    networks under autocast (float32 otherwise) and updates both groups."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_wrapper
    from mmengine.runner import Runner

    from nicegan_plugin.engine.launch.runner_setup import enable_amp
    data = make_image_set(str(tmp_path / 'data'), n_a=2, n_b=2, size=72)
    cfg = _toy_cfg(osp.join(project_root, TOY_CYCLEGAN), data, str(tmp_path / 'amp'))
    enable_amp(cfg)
    for key in ('generators', 'discriminators'):
        cfg.optim_wrapper[key].dtype = 'bfloat16'
    with mock.patch.object(amp_wrapper, 'is_cuda_available', lambda: True):
        runner = Runner.from_cfg(cfg)
        seen = []
        runner.model.generators['night'].register_forward_hook(
            lambda m, i, o: seen.append(o.dtype))
        before = {k: v.clone() for k, v in runner.model.state_dict().items()}
        runner.train()
    assert {type(w).__name__ for w in runner.optim_wrapper.values()} == {'AmpOptimWrapper'}
    assert set(seen) == {torch.bfloat16}
    for group in ('generators.', 'discriminators.'):
        assert any(not torch.equal(v, before[k]) for k, v in
                   runner.model.state_dict().items() if k.startswith(group)), group
    x = torch.zeros(1, 3, 64, 64)
    assert runner.model.generators['night'](x).dtype == torch.float32  # outside autocast


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_cyclegan_amp_on_gpu(tmp_path, project_root, make_image_set, data_root_args):
    """tools/train.py --amp trains the CycleGAN baseline with float16 AMP on a GPU."""
    data = make_image_set(str(tmp_path / 'data'), n_a=2, n_b=2, size=72)
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', TOY_CYCLEGAN, '--amp', '--work-dir',
         str(tmp_path / 'work'), '--cfg-options', *data_root_args(data),
         'train_cfg.max_iters=2', 'val_evaluator.metrics=[]', 'custom_hooks=[]'],
        cwd=project_root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'AmpOptimWrapper' in proc.stdout + proc.stderr or \
        osp.isfile(tmp_path / 'work' / 'iter_2.pth')


def _run(args, cwd, **kw):
    """``args`` run in ``cwd`` (the project root); fails on a non-zero exit; the output."""
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def trained_cyclegan(tmp_path_factory, project_root, tiny_config_file, make_image_set,
                     data_root_args):
    """A tiny CycleGAN baseline trained 4 iterations by tools/dist_train.sh (2 CPU processes x
    batch 1) and by tools/train.py (1 x batch 2), a checkpoint after every iteration, then
    tools/test.py with the plugin's FID/KID and NICEGANSaveTranslationsHook. Returns a dict
    of paths and logs."""
    tmp = tmp_path_factory.mktemp('cyclegan')
    data = make_image_set(str(tmp / 'data'), n_a=4, n_b=4, size=72)
    sgd_cyclegan = tiny_config_file('tiny_cyclegan_sgd')
    env = dict(os.environ, PORT=str(29500 + (os.getpid() + 7) % 1000), OMP_NUM_THREADS='1')
    every_iter = ['default_hooks.checkpoint.interval=1',
                  'default_hooks.checkpoint.max_keep_ckpts=-1']
    dist_log = _run(['bash', 'tools/dist_train.sh', sgd_cyclegan, '2', '--work-dir',
                     str(tmp / 'dist'), '--cfg-options', *data_root_args(data), *every_iter],
                    project_root, env=env)
    log = _run([sys.executable, 'tools/train.py', sgd_cyclegan, '--work-dir', str(tmp / 'single'),
                '--cfg-options', 'train_dataloader.batch_size=2', *data_root_args(data),
                *every_iter], project_root)
    assert 'loss_gan_d_day' in log and 'cycle_loss' in log
    ckpt = tmp / 'single' / 'iter_4.pth'
    n_opts = [f'test_evaluator.metrics.{i}.{k}=4' for i in range(4)
              for k in ('fake_nums', 'real_nums')]
    test_log = _run([sys.executable, 'tools/test.py', sgd_cyclegan, str(ckpt), '--work-dir',
                     str(tmp / 'test'), '--cfg-options', *data_root_args(data), *n_opts],
                    project_root)
    return dict(data=data, ckpt=str(ckpt), dist=tmp / 'dist', single=tmp / 'single',
                test_dir=tmp / 'test', test_log=test_log, dist_log=dist_log)


def _scalars(work_dir):
    path = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0]
    rows = [json.loads(line) for line in open(path)]
    return [r for r in rows if 'loss_gan_d_day' in r]


def test_cyclegan_distributed_matches_single_process(trained_cyclegan):
    """NICEGANGradSyncWrapper: 2 processes x batch 1 (gloo) == 1 process x batch 2, up to
    float32 rounding, compared on the one step that starts from the same weights.

    The two sum a batch's gradients in different orders (one convolution backward over 2
    images, or two of 1 image added by the all-reduce; 1 or more threads splitting each
    sum), so they agree up to float32 rounding, not bit for bit: after iteration 1 the
    weights differ by at most 1.2e-7 and the losses by 9.5e-7 (relative) between any of: 1
    or 2 processes, 1, 2 or 4 threads (2-core CPU, 2026-12-07). Each run is bit-reproducible
    whatever the machine's load; it is the thread and process split that changes the
    order. From iteration 2 on the weights differ, and this tiny network's instance norms
    (channels of near-zero variance: 1 / sqrt(var + eps) up to 316) amplify the difference
    ~100x per iteration (6e-6 to 2.5e-5 after 2, 4e-4 after 3, depending on the split), so
    a later iteration has no tolerance that holds on every machine. Iteration 1 tolerances:
    1e-6 absolute on the weights, 1e-5 relative on the losses; without the all-reduce they
    differ by 1e-2 and 0.3 (the generator losses; measured with the hook disabled).
    """
    run = trained_cyclegan
    load = lambda d, i: torch.load(run[d] / f'iter_{i}.pth', map_location='cpu')['state_dict']  # noqa: E731
    single, dist = load('single', 1), load('dist', 1)
    moved = max((load('single', 2)[k] - v).abs().max().item() for k, v in single.items())
    assert moved > 1e-3, 'weights hardly move: the comparison would be vacuous'
    for k, v in single.items():
        torch.testing.assert_close(dist[k], v, rtol=0, atol=1e-6, msg=k)
    rows_single, rows_dist = _scalars(run['single']), _scalars(run['dist'])
    assert len(rows_single) == len(rows_dist) == 4
    s, d = rows_single[0], rows_dist[0]
    assert s['step'] == d['step'] == 1
    for key in ('loss_gan_d_day', 'loss_gan_d_night', 'loss_gan_g_day', 'loss_gan_g_night',
                'cycle_loss', 'id_loss'):
        assert d[key] == pytest.approx(s[key], rel=1e-5), key
    log = glob.glob(str(run['dist'] / '*' / '*.log'))[0]
    assert "dist_cfg=dict(backend='gloo')" in open(log).read()


def test_cyclegan_through_tools_with_plugin_metrics_and_saver(trained_cyclegan):
    data, test_dir, log = (trained_cyclegan[k] for k in ('data', 'test_dir', 'test_log'))
    for key in ('FID-day-to-night/fid', 'KID-day-to-night/kid_x100', 'FID-night-to-day/fid',
                'KID-night-to-day/kid_x100'):
        assert re.search(rf'{re.escape(key)}: [0-9.]+', log), key
    for fake, src in (('fake_night', 'testA'), ('fake_day', 'testB')):
        assert sorted(os.listdir(test_dir / 'translations' / fake)) == \
            sorted(os.listdir(osp.join(data, src)))


def test_compare_nicegan_and_cyclegan(trained_cyclegan, tmp_path, project_root,
                                      tiny_config_file):
    """tools/compare.py's logic: the CycleGAN's FID/KID equal tools/test.py's, parameter
    counts equal the networks a translation uses, the grid has every row."""
    import cv2
    from mmagic.registry import MODELS
    from mmengine.config import Config

    from nicegan_plugin.apis import load_model
    from nicegan_plugin.benchmarks.compare import run_comparison
    from nicegan_plugin.engine import derive_keys
    data, cycle_ckpt, test_log = (trained_cyclegan[k] for k in ('data', 'ckpt', 'test_log'))
    toy_nicegan = osp.join(project_root, TOY_NICEGAN)
    sgd_cyclegan = tiny_config_file('tiny_cyclegan_sgd')
    torch.manual_seed(0)
    nice = MODELS.build(derive_keys(Config.fromfile(toy_nicegan)).model)
    nice_ckpt = str(tmp_path / 'nicegan.pth')
    torch.save({'state_dict': nice.state_dict(), 'meta': {}}, nice_ckpt)

    out = run_comparison([(toy_nicegan, nice_ckpt), (sgd_cyclegan, cycle_ckpt)], data,
                         str(tmp_path / 'cmp'), num_grid=3)
    with open(out['json']) as f:
        res = {m['name']: m for m in json.load(f)['models']}
    assert set(res) == {'NICEGAN', 'CycleGAN'}
    for key, name in (('FID-day-to-night/fid', 'FID day2night'),
                      ('KID-night-to-day/kid_x100', 'KID night2day')):
        logged = float(re.search(rf'{re.escape(key)}: ([0-9.]+)', test_log).group(1))
        assert res['CycleGAN']['metrics'][name] == pytest.approx(logged, abs=1e-3), name
    assert set(res['NICEGAN']['metrics']) == {'FID day2night', 'KID day2night',
                                              'FID night2day', 'KID night2day'}

    cycle = load_model(sgd_cyclegan, cycle_ckpt)
    numel = lambda *mods: sum(p.numel() for m in mods for p in m.parameters())  # noqa: E731
    assert res['CycleGAN']['num_params'] == numel(cycle)
    assert res['CycleGAN']['translation_params'] == numel(cycle.generators['night'])
    d = nice.discriminators['day']  # NICE-GAN day->night: day's encoder + night's decoder
    assert res['NICEGAN']['translation_params'] == numel(
        d.encoder, d.cam_fc, d.cam_conv, nice.generators['night']) + d.gamma.numel()
    assert res['NICEGAN']['num_params'] == numel(nice)
    assert all(r['ms_per_image'] > 0 for r in res.values())

    table = open(out['table']).read()
    assert table.count('\n') == 4 and '| CycleGAN |' in table
    grid = cv2.imread(out['grid'])
    assert grid.shape[0] == 2 * 3 * 96  # per direction: inputs + one row per model
    # the first input tile is the first testA image
    first = cv2.resize(cv2.imread(sorted(glob.glob(osp.join(data, 'testA', '*')))[0]),
                       (96, 96), interpolation=cv2.INTER_LINEAR)
    assert np.abs(grid[:96, 110:206].astype(int) - first.astype(int)).mean() < 8


def test_compare_refuses_models_of_other_domains(tmp_path, project_root, tiny_config):
    from nicegan_plugin.benchmarks.compare import compare_models
    with pytest.raises(ValueError, match='domains'):
        compare_models([(osp.join(project_root, TOY_NICEGAN), None), (tiny_config, None)],
                       str(tmp_path), str(tmp_path))

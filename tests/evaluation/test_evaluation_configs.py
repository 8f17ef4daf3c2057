"""The paper configs' evaluation and checkpoint settings: FID/KID for both directions,
best checkpoint per direction by FID (rule 'less'), and the constant-lr cat2dog variant."""
import os
import os.path as osp

import pytest
import torch

#: the cat2dog paper config and its constant-lr variant, relative to the project root
C2D = osp.join('configs', 'nicegan', 'nicegan_light_1xb1-100kiters_cat2dog.py')
C2D_CONSTLR = C2D.replace('.py', '_constlr.py')


@pytest.mark.config_files('configs/*.py', 'configs/nicegan/*.py')
def test_best_checkpoint_by_fid_of_each_direction(config_path):
    from mmagic.registry import HOOKS
    from mmengine.config import Config

    from nicegan_plugin.engine import derive_keys
    cfg = derive_keys(Config.fromfile(config_path))
    a, b = cfg.model.reachable_domains
    prefixes = [(m['type'], m['prefix']) for m in cfg.val_evaluator.metrics]
    assert sorted(prefixes) == sorted(
        (f'NICEGANTrans{n}', f'{n}-{s}-to-{t}')
        for n in ('FID', 'KID') for s, t in ((a, b), (b, a)))
    assert cfg.test_evaluator.metrics == cfg.val_evaluator.metrics
    ckpt = cfg.default_hooks.checkpoint
    assert ckpt.save_best == [f'FID-{a}-to-{b}/fid', f'FID-{b}-to-{a}/fid']
    hook = HOOKS.build(dict(ckpt))
    assert hook.rules == ['less', 'less']


def test_constlr_variant_is_the_300k_schedule_stopped_at_100k(project_root):
    """The variant keeps lr 1e-4 for all its 100k iterations (the official 300k run decays
    after 150k); the base config decays linearly to 0 over its second half."""
    from mmengine.config import Config

    from nicegan_plugin.engine.scheduler import NICEGANLinearDecayLR
    base, const = (Config.fromfile(osp.join(project_root, p)) for p in (C2D, C2D_CONSTLR))
    assert const.train_cfg.max_iters == base.train_cfg.max_iters == 100000
    assert const.model == base.model and const.val_evaluator == base.val_evaluator
    factors = {}
    for name, cfg in (('base', base), ('const', const)):
        opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
        kwargs = {k: v for k, v in cfg.param_scheduler.items() if k != 'type'}
        kwargs['total_iters'] = kwargs['total_iters'] or cfg.train_cfg.max_iters
        sched = NICEGANLinearDecayLR(opt, **kwargs)
        factors[name] = [sched.factor(s) for s in (1, 50000, 50001, 75000, 100000)]
    assert factors['const'] == [1.0] * 5
    assert factors['base'] == [1.0, 1.0, pytest.approx(1 - 1 / 50000), 0.5, 0.0]


@pytest.fixture
def random_inception(tmp_path):
    """A random FID Inception (pytorch-fid layout), BatchNorm statistics set on noise."""
    from nicegan_plugin.evaluation import FIDInceptionTrunk
    torch.manual_seed(0)
    trunk = FIDInceptionTrunk()
    for m in trunk.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        trunk.train()(torch.rand(2, 3, 299, 299) * 2 - 1)
    path = str(tmp_path / 'random_inception.pth')
    torch.save(trunk.eval().net.state_dict(), path)
    return path


def test_training_keeps_the_best_checkpoint_per_direction(tmp_path, random_inception,
                                                          monkeypatch, make_image_set,
                                                          tiny_config_file):
    """2 iterations, validation (FID + KID, both directions) after each: MMEngine keeps one
    best_FID-<direction>_fid_iter_<n>.pth per direction, at the iteration of lower FID."""
    from mmengine.config import Config

    from nicegan_plugin.engine import NICEGANRunner
    from nicegan_plugin.evaluation import clear_caches
    monkeypatch.setenv('NICEGAN_INCEPTION', random_inception)
    monkeypatch.setenv('NICEGAN_FEAT_CACHE', str(tmp_path / 'feat_cache'))
    clear_caches()
    data = make_image_set(str(tmp_path / 'data'), n_a=3, n_b=4, size=64)
    cfg = Config.fromfile(tiny_config_file('tiny_h2z_metrics'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data
    cfg.val_evaluator = cfg.test_evaluator
    cfg.train_cfg.update(max_iters=2, val_interval=1)
    cfg.work_dir = str(tmp_path / 'work')
    runner = NICEGANRunner.from_cfg(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fast on a busy 2-core machine (see test_metrics.one_thread)
    try:
        runner.train()
    finally:
        torch.set_num_threads(threads)
    saved = sorted(f for f in os.listdir(cfg.work_dir) if f.startswith('best_'))
    assert len(saved) == 2, saved
    for direction in ('horse-to-zebra', 'zebra-to-horse'):
        history = runner.message_hub.get_scalar(f'val/FID-{direction}/fid').data[0]
        assert len(history) == 2  # validations at iterations 1 and 2
        best_iter = 1 if history[0] <= history[1] else 2
        assert f'best_FID-{direction}_fid_iter_{best_iter}.pth' in saved
        assert runner.message_hub.get_info(f'best_score_FID-{direction}/fid') == min(history)
    clear_caches()

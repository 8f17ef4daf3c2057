"""Config mistakes outside the model are reported before the runner is built, by name,
with the nearest valid key; every config of the repository passes. A test run whose config
resizes to another size than the checkpoint was trained at says so."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config


@pytest.fixture(scope='module')
def problems(tiny_config):
    """``problems(options, training=True)``: the one-line error of the tiny config with
    ``options`` merged in (the check must fail)."""
    def check(options, training=True):
        from nicegan_plugin.engine.config.check import (
            ConfigCheckError,
            check_cfg_options,
            check_config,
        )
        cfg = Config.fromfile(tiny_config)
        with pytest.raises(ConfigCheckError) as info:
            check_cfg_options(cfg, options)
            cfg.merge_from_dict(options)
            check_config(cfg, training)
        assert '\n' not in str(info.value)
        return str(info.value)
    return check


def test_the_issues_config_mistakes_are_named(problems):
    assert problems({'default_hooks.checkpoint.intervall': 1}) == (
        "default_hooks.checkpoint.intervall: NICEGANCheckpointHook has no argument "
        "'intervall' (did you mean 'interval'?)")
    assert problems({'modle.generator.num_blocks': 3}) == (
        "--cfg-options modle.generator.num_blocks: unknown top-level key 'modle' "
        "(did you mean 'model'?)")
    for value in (0, -5, 2.5):
        assert problems({'train_cfg.max_iters': value}) == \
            f'train_cfg.max_iters must be a positive integer (got {value})'


def test_other_hook_and_interval_mistakes_are_named_together(problems):
    msg = problems({'default_hooks.logger.interval': 0,
                     'default_hooks.checkpoint.interval': '2',
                     'default_hooks.nonfinite.max_skip': 3,
                     'default_hooks.timer.type': 'IterTimerHok',
                     'train_cfg.val_interval': 0})
    for part in ("default_hooks.logger.interval must be >= 1 (got 0)",
                 "default_hooks.checkpoint.interval must be an integer (got '2')",
                 "NICEGANNonFiniteGuardHook has no argument 'max_skip' (did you mean "
                 "'max_skips'?)",
                 "default_hooks.timer.type: 'IterTimerHok' is not a registered hook (did you "
                 "mean 'IterTimerHook'?)",
                 'train_cfg.val_interval must be a positive integer (got 0)'):
        assert part in msg, msg


def test_every_config_of_the_repository_passes(project_root):
    from nicegan_plugin.engine.config.check import check_cfg_options, check_config
    paths = sorted(glob.glob(osp.join(project_root, 'configs', '**', '*.py'), recursive=True) +
                   glob.glob(osp.join(project_root, 'tests', 'configs', '*.py')))
    paths = [p for p in paths if '_base_' not in p]
    assert len(paths) > 15
    for path in paths:
        cfg = Config.fromfile(path)
        check_cfg_options(cfg, {'train_dataloader.dataset.data_root': 'x', 'model.x': 1,
                                'experiment_name': 'e'})
        check_config(cfg)


def test_env_cfg_typos_are_named(problems):
    """MMEngine reads four env_cfg keys (and mp_cfg's two) and ignores the rest."""
    msg = problems({'env_cfg.cudnn_benchmrk': True, 'env_cfg.mp_cfg.mp_start_methd': 'spawn',
                    'env_cfg.dist_cfg.backnd': 'gloo', 'env_cfg.seed': 3})
    assert msg == (
        "env_cfg.cudnn_benchmrk: not read by MMEngine's Runner (did you mean "
        "'cudnn_benchmark'?); env_cfg.seed: not read by MMEngine's Runner (it reads "
        "cudnn_benchmark, dist_cfg, mp_cfg, resource_limit); env_cfg.mp_cfg.mp_start_methd: "
        "not read by MMEngine's Runner (did you mean 'mp_start_method'?); "
        "env_cfg.dist_cfg.backnd: not read by MMEngine's Runner (did you mean 'backend'?)")


def test_test_runs_say_when_the_config_size_is_not_the_trained_one(tiny_checkpoint):
    """tools/test.py resizes as the config says (explicit) and logs the recorded size."""
    from nicegan_plugin.engine.checkpointing.reading import read_weights_and_meta
    from nicegan_plugin.engine.launch.runner_setup import trained_size_note
    cfg_path, ckpt = tiny_checkpoint
    _, meta = read_weights_and_meta(ckpt)
    assert meta['img_size'] == [64, 64]  # recorded while training
    cfg = Config.fromfile(cfg_path)
    assert trained_size_note(cfg, meta, ckpt) is None
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (128, 128)
    assert trained_size_note(cfg, meta, ckpt) == (
        f'the model was trained at 64x64 ({ckpt}); testing at 128x128 as the config\'s '
        'test_dataloader.dataset.pipeline says')

"""Config mistakes outside the model are reported before the runner is built, by name,
with the nearest valid key; every config of the repository passes."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT, TINY_CONFIG


def _problems(options, training=True):
    from nicegan_plugin.engine.config_check import (
        ConfigCheckError,
        check_cfg_options,
        check_config,
    )
    cfg = Config.fromfile(TINY_CONFIG)
    with pytest.raises(ConfigCheckError) as info:
        check_cfg_options(cfg, options)
        cfg.merge_from_dict(options)
        check_config(cfg, training)
    assert '\n' not in str(info.value)
    return str(info.value)


def test_the_issues_config_mistakes_are_named():
    assert _problems({'default_hooks.checkpoint.intervall': 1}) == (
        "default_hooks.checkpoint.intervall: NICEGANCheckpointHook has no argument "
        "'intervall' (did you mean 'interval'?)")
    assert _problems({'modle.generator.num_blocks': 3}) == (
        "--cfg-options modle.generator.num_blocks: unknown top-level key 'modle' "
        "(did you mean 'model'?)")
    for value in (0, -5, 2.5):
        assert _problems({'train_cfg.max_iters': value}) == \
            f'train_cfg.max_iters must be a positive integer (got {value})'


def test_other_hook_and_interval_mistakes_are_named_together():
    msg = _problems({'default_hooks.logger.interval': 0,
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


def test_every_config_of_the_repository_passes():
    from nicegan_plugin.engine.config_check import check_cfg_options, check_config
    paths = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True) +
                   glob.glob(osp.join(ROOT, 'tests', 'configs', '*.py')))
    paths = [p for p in paths if '_base_' not in p]
    assert len(paths) > 15
    for path in paths:
        cfg = Config.fromfile(path)
        check_cfg_options(cfg, {'train_dataloader.dataset.data_root': 'x', 'model.x': 1,
                                'experiment_name': 'e'})
        check_config(cfg)

#!/usr/bin/env python
"""Test a checkpoint with MMEngine's Runner (MMagic's tools/test.py, for this plugin).

Writes the translated test images of both directions to ``<work_dir>/translations``
(file names kept) and the metrics to ``--out`` (default ``<work_dir>/metrics.json``).
The test data is resized as the config says; when the checkpoint recorded another training
size, the log says so.
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

import nicegan_plugin  # noqa: F401  (registers the plugin's modules)
from nicegan_plugin.apis.translation import translate_test_set
from nicegan_plugin.engine import NICEGANDumpMetricsHook, NICEGANSaveTranslationsHook
from nicegan_plugin.engine.config.check import check_config
from nicegan_plugin.engine.launch.runner_setup import (
    build_runner,
    end_distributed,
    load_config,
    set_local_rank,
    setup_distributed,
    trained_size_note,
    validate_checkpoint,
)
from nicegan_plugin.utils.cli import ToolError, run_cli


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='metrics JSON (default: <work_dir>/metrics.json)')
    parser.add_argument('--work-dir', help='the directory to save the file containing '
                        'evaluation metrics and translated images')
    parser.add_argument('--no-save-images', action='store_true',
                        help='do not write the translated test images')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    set_local_rank(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise ToolError(f'{what} file not found: {path}')
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    check_config(cfg, training=False)
    cfg.load_from = args.checkpoint
    setup_distributed(cfg, args.launcher)
    os.makedirs(cfg.work_dir, exist_ok=True)
    runner = build_runner(cfg)
    try:
        meta = validate_checkpoint(runner, args.checkpoint)
    except (ValueError, FileNotFoundError) as err:
        raise ToolError(str(err)) from err
    note = trained_size_note(cfg, meta, args.checkpoint)
    if note:
        runner.logger.warning(note)
    out = args.out or osp.join(cfg.work_dir, 'metrics.json')
    saver = None
    if not args.no_save_images:
        saver = NICEGANSaveTranslationsHook(out_dir='translations')
        runner.register_hook(saver)
    runner.register_hook(NICEGANDumpMetricsHook(out_file=out), 'LOWEST')
    runner.test()
    if saver is not None and not cfg.test_evaluator.get('metrics'):
        # MMagic's MultiTestLoop only iterates the data its metrics sample; with no
        # metric configured, translate the test set in one plain pass instead.
        count = translate_test_set(runner, saver.out_dir)
        runner.logger.info(f'{count} translated test images written')
    end_distributed()


if __name__ == '__main__':
    run_cli(main)

#!/usr/bin/env python
"""Train a model with MMEngine's Runner (MMagic's tools/train.py, for this plugin).

Same arguments and behaviour as MMagic's script, plus:
- ``--amp`` really switches both optimizer wrappers of a GAN config to AMP;
- ``--cuda-graph`` replays the whole train step as one CUDA graph (``model.cuda_graph``);
- distributed runs pick ``nccl`` with GPUs and ``gloo`` without, automatically;
- ``--resume`` takes an optional checkpoint path (default: the latest in work_dir; with
  nothing to resume it stops, ``--resume auto-or-new`` starts a new run then);
- ``--tensorboard`` adds MMEngine's ``TensorboardVisBackend`` to the visualizer: event
  files beside ``scalars.json`` with the same scalars and the CAM panels as images;
- the config is checked first (``nicegan_plugin.engine.config.check``); errors are one
  line, ``--debug`` shows the traceback (and the config dump, else only in the log file);
- one run per work dir: a second run is refused before it touches anything, naming the
  first (``nicegan_plugin.engine.guards.run_lock``); workers end when their launcher dies.
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

import nicegan_plugin  # noqa: F401  (registers the plugin's modules)
from nicegan_plugin.engine.config.check import check_config
from nicegan_plugin.engine.guards.resume import resolve_resume
from nicegan_plugin.engine.guards.run_lock import acquire_run_lock, launcher_rank
from nicegan_plugin.engine.launch.runner_setup import (
    build_runner,
    enable_amp,
    enable_cuda_graph,
    end_distributed,
    fill_schedule_length,
    load_config,
    set_local_rank,
    setup_distributed,
    validate_checkpoint,
)
from nicegan_plugin.utils.cli import ToolError, run_cli


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a NICE-GAN (or any MMagic) model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from the latest checkpoint in work_dir (stop if there is '
                        'none; "auto-or-new": start a new run then), or from PATH')
    parser.add_argument('--amp', action='store_true', help='mixed precision training')
    parser.add_argument('--cuda-graph', action='store_true',
                        help='replay the whole train step as one CUDA graph (model.cuda_graph)')
    parser.add_argument('--tensorboard', action='store_true',
                        help='also write TensorBoard event files (scalars and CAM panels) to '
                        'WORK_DIR/<timestamp>/vis_data (tensorboard --logdir WORK_DIR)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the total batch size (auto_scale_lr in cfg)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, e.g. train_cfg.max_iters=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    set_local_rank(args.local_rank)
    return args


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.config):
        raise ToolError(f'config file not found: {args.config}')
    cfg = load_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    fill_schedule_length(cfg)
    if args.amp:
        enable_amp(cfg)
    if args.cuda_graph:
        try:
            enable_cuda_graph(cfg)
        except ValueError as err:
            raise ToolError(str(err)) from err
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise ToolError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.tensorboard:  # MMagic's scope resolves it to its subclass (adds GIF support)
        vis = cfg.setdefault('visualizer', dict(type='Visualizer'))
        backends = vis.setdefault('vis_backends', [])
        if not any('Tensorboard' in str(b.get('type')) for b in backends):
            vis.vis_backends = [*backends, dict(type='TensorboardVisBackend')]
    check_config(cfg)
    if args.resume is not None:
        cfg.resume, start = resolve_resume(cfg.work_dir, args.resume)
        cfg.load_from = start if cfg.resume else cfg.get('load_from')
    # one run per work dir (rank 0 of the whole run), before anything writes there
    acquire_run_lock(cfg.work_dir, launcher_rank(args.launcher))
    setup_distributed(cfg, args.launcher)
    os.makedirs(cfg.work_dir, exist_ok=True)
    runner = build_runner(cfg)
    try:
        validate_checkpoint(runner, cfg.get('load_from'))
    except (ValueError, FileNotFoundError) as err:
        raise ToolError(str(err)) from err
    runner.train()
    end_distributed()


if __name__ == '__main__':
    run_cli(main)

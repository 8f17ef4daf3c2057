#!/usr/bin/env python
"""CPU inference speed of a translator: PyTorch eager vs TorchScript vs onnxruntime.

Usage::

    python tools/benchmark_inference.py [--config CFG] [--checkpoint CKPT]
        [--sizes 256 512] [--batches 1 8] [--iters 3] [--warmup 2] [--threads N]
        [--json OUT]

Default model: the paper's light NICE-GAN (configs/nicegan/
nicegan_light_1xb1-100kiters_cat2dog.py: ch 64, 6 blocks, n_dis 7) with random weights;
speed does not depend on the weights. Prints one line per measurement and a Markdown
table (images/s, speed-up over eager, max abs difference from eager).
"""
import argparse
import json
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(ROOT, 'configs', 'nicegan', 'nicegan_light_1xb1-100kiters_cat2dog.py')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--checkpoint', default=None, help='default: random weights')
    parser.add_argument('--direction', default='a2b')
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 512])
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--backends', nargs='+', default=None,
                        help='subset of: pytorch torchscript onnxruntime')
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None,
                        help='intra-op threads for every backend (default: torch\'s)')
    parser.add_argument('--json', default=None, help='also write the rows as JSON')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    from nicegan_plugin.apis.loading import load_model
    from nicegan_plugin.benchmarks.inference import (
        BACKENDS,
        benchmark_inference,
        markdown_table,
    )
    from nicegan_plugin.utils.cli import UsageError
    try:
        torch.manual_seed(0)
        model = load_model(args.config, args.checkpoint, 'cpu')
        rows = benchmark_inference(model, args.direction, args.sizes, args.batches,
                                   args.backends or BACKENDS, args.iters, args.warmup,
                                   args.threads, log=print)
    except (FileNotFoundError, KeyError, ValueError) as err:
        raise UsageError(str(err)) from err
    print(markdown_table(rows))
    if args.json:
        from nicegan_plugin.utils.fileio import atomic_write
        atomic_write(args.json, json.dumps(rows, indent=2) + '\n')


if __name__ == '__main__':
    from nicegan_plugin.utils.cli import run_cli
    run_cli(main)

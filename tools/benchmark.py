#!/usr/bin/env python
"""Time a NICE-GAN training iteration against the official code (a local clone).

The official networks.py is imported from --official-repo, given the plugin's initial
weights (through the checkpoint converter) and trained beside the plugin on the same
batches, interleaved. Reported per mode (official loop, plugin eager, and on CUDA the
plugin's CUDA-graph step in fp32 and bf16): ms/iteration, peak memory, ATen calls and
CUDA kernels per iteration, and the first iteration's losses against the official ones.
See nicegan_plugin/benchmarks/training.py.

Usage: python tools/benchmark.py [--official-repo PATH] [--device cpu|cuda]
           [--img-size 256 --ch 64 --n-res 6 --n-dis 7] [--full] [--batch 1]
           [--iters 5 --warmup 1] [--modes official eager graph graph_bf16]
           [--float64] [--threads N] [--json OUT]
"""
import argparse
import json

from nicegan_plugin.utils.cli import run_cli


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--official-repo', default=None,
                        help='local clone of github.com/alpc91/NICE-GAN-pytorch (without it '
                        'the reference is the official order of work on the plugin\'s '
                        'networks)')
    parser.add_argument('--device', default=None, choices=['cpu', 'cuda'],
                        help='default: cuda if available')
    parser.add_argument('--img-size', type=int, default=128)
    parser.add_argument('--ch', type=int, default=32)
    parser.add_argument('--n-res', type=int, default=6)
    parser.add_argument('--n-dis', type=int, default=7)
    parser.add_argument('--full', action='store_true', help='non-light generator')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--iters', type=int, default=5, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    parser.add_argument('--modes', nargs='+', default=None,
                        help='official eager graph graph_bf16 (default: all that apply)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--float64', action='store_true',
                        help='run both sides in float64: checks that the weights agree '
                        '(~1e-12) after the run; timings are not the float32 ones')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--json', help='write all figures here')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import torch

    from nicegan_plugin.benchmarks.training import run_benchmark
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    result = run_benchmark(args.official_repo, device, args.img_size, args.ch, args.n_res,
                           args.n_dis, not args.full, args.batch, args.iters, args.warmup,
                           args.modes, args.seed,
                           torch.float64 if args.float64 else torch.float32)
    if args.json:
        from nicegan_plugin.utils.fileio import atomic_write
        atomic_write(args.json, json.dumps(result.to_dict(), indent=2) + '\n')
    print(result.table())


if __name__ == '__main__':
    run_cli(main)

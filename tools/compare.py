#!/usr/bin/env python
"""Compare two translation models on the same test images.

Example (docs/combining.md: the comparison on the quickstart's toy set)::

    NICE=configs/nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py
    CYCLE=configs/baselines/cyclegan_lsgan-resnet-in-tiny_1xb4-600iters_toy-day2night.py
    python tools/compare.py $NICE work_dirs/toy_nicegan/iter_300.pth \\
        $CYCLE work_dirs/toy_cyclegan/iter_300.pth --data data/toy_day2night

Writes ``OUT/compare.md`` (FID and KID x 100 per direction from each config's own test
evaluator, parameters, translation ms/image), ``OUT/compare.json`` and
``OUT/compare_grid.png`` (per direction: the inputs, then each model's translations).
DIR needs ``testA`` (the configs' first domain) and ``testB``.
"""
import argparse


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config_a', help='config of the first model')
    parser.add_argument('checkpoint_a', help='checkpoint of the first model')
    parser.add_argument('config_b', help='config of the second model')
    parser.add_argument('checkpoint_b', help='checkpoint of the second model')
    parser.add_argument('--data', required=True, help='data root with testA/ and testB/')
    parser.add_argument('--out', default='work_dirs/compare', help='output folder')
    parser.add_argument('--names', nargs=2, metavar=('NAME_A', 'NAME_B'),
                        help='row labels (default: the model types, e.g. NICEGAN CycleGAN)')
    parser.add_argument('--num-images', type=int, default=4,
                        help='test images per direction in the grid (default 4)')
    parser.add_argument('--no-metrics', action='store_true',
                        help='skip FID/KID (no Inception run)')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda if available)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads for torch (default: torch\'s choice); the timing '
                        'is steadier with 1 on a busy machine')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    import nicegan_plugin  # noqa: F401  (registers the plugin's modules)
    from nicegan_plugin.benchmarks.compare import run_comparison
    from nicegan_plugin.utils.cli import UsageError
    if args.threads:
        torch.set_num_threads(args.threads)
    models = [(args.config_a, args.checkpoint_a), (args.config_b, args.checkpoint_b)]
    try:
        out = run_comparison(models, args.data, args.out, args.names, args.num_images,
                             args.device, metrics=not args.no_metrics)
    except (FileNotFoundError, KeyError, ValueError) as err:
        raise UsageError(str(err)) from err
    print(out['table_text'])
    print(f"table: {out['table']}\ngrid: {out['grid']}\njson: {out['json']}")


if __name__ == '__main__':
    from nicegan_plugin.utils.cli import run_cli
    run_cli(main)

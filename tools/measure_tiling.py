"""Measure whole-image vs tiled native-size translation: peak memory and time per megapixel.

Each (size, mode) runs in its own subprocess (peak RSS of its own, the address space capped
on the CPU at its start-up size plus ``--cap-gb``); a whole-image run whose estimate is over
the cap is not started. Prints a Markdown table as the runs finish, then the largest photo
each mode handles on this host; exits 1 when a run failed. What is measured and how:
nicegan_plugin/benchmarks/tiling.py; the numbers: docs/large_images.md.

Examples::

    python tools/measure_tiling.py                        # 1, 4, 12, 24 MP, tile 512
    python tools/measure_tiling.py --megapixels 1 --modes tiled --tile 256 1024
    python tools/measure_tiling.py --device cuda          # max_memory_allocated too
"""
import argparse
import json

from nicegan_plugin.utils.cli import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--megapixels', type=float, nargs='+', default=[1, 4, 12, 24])
    parser.add_argument('--modes', nargs='+', choices=('whole', 'tiled'),
                        default=['whole', 'tiled'])
    parser.add_argument('--tile', type=int, nargs='+', default=[512],
                        help='tile sizes of the tiled runs (image pixels)')
    parser.add_argument('--aspect', type=float, default=4 / 3, help='width / height')
    parser.add_argument('--storage', choices=('disk', 'memory'), default='disk')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cap-gb', type=float, default=16.0,
                        help='address-space cap of each run beyond its start-up size (GiB)')
    parser.add_argument('--json', help='also write the results to this file')
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    from nicegan_plugin.benchmarks import tiling
    from nicegan_plugin.utils.cli import ToolError
    from nicegan_plugin.utils.fileio import atomic_write
    print(tiling.table_header(args.device.startswith('cuda')), flush=True)
    results = tiling.measure_tiling(args.megapixels, args.modes, args.tile, args.aspect,
                                    args.storage, args.device, args.cap_gb,
                                    log=lambda row: print(row, flush=True))
    lines = tiling.capacity_lines(results)
    if lines:
        print('\n' + '\n'.join(lines))
    if args.json:
        atomic_write(args.json, json.dumps(results, indent=1))
    bad = tiling.failed(results)
    if bad:
        raise ToolError(f'{len(bad)} of {len(results)} runs failed (see the table)')
    return results


if __name__ == '__main__':
    run_cli(main)

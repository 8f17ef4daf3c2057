#!/usr/bin/env python
"""Draw the training curves of one or several runs into one PNG.

Reads what training already wrote (``WORK_DIR/<timestamp>/vis_data/scalars.json``, the
folders of a resumed run joined by iteration; a run still in progress as far as it got)
and draws the D and G losses per domain (each head and term, smoothed over the faint raw
values), the learning rates, and FID / KID per direction at each validation with the best
checkpoint marked. Several work dirs overlay (one line style per run)::

    python tools/plot_curves.py work_dirs/quickstart
    python tools/plot_curves.py work_dirs/toy_nicegan work_dirs/toy_cyclegan \\
        --names NICE-GAN CycleGAN --out work_dirs/nice_vs_cycle.png

See docs/monitoring.md.
"""
import argparse
import os.path as osp
import sys

from nicegan_plugin.utils.cli import run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+', metavar='WORK_DIR',
                        help='work dir of a tools/train.py run (or one of its timestamp '
                        'folders, or a scalars.json file)')
    parser.add_argument('--out', help='PNG to write (default: WORK_DIR/curves.png of the '
                        'first work dir); an existing folder: FOLDER/curves.png; another '
                        'extension (.pdf, .svg) picks that format')
    parser.add_argument('--names', nargs='+', help='one legend name per work dir (default: '
                        'the work dirs\' folder names)')
    parser.add_argument('--smooth', type=float, default=0.6,
                        help='EMA weight of the smoothed lines, in [0, 1); 0 = raw only '
                        '(default 0.6, TensorBoard\'s smoothing)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from nicegan_plugin.visualization.curves import best_point, curves_path, save_curves
    first = args.work_dirs[0]
    out = curves_path(args.out or osp.join(first if osp.isdir(first) else osp.dirname(first),
                                           'curves.png'))
    runs = save_curves(args.work_dirs, out, args.names, args.smooth)
    for run in runs:
        for line in run.skipped[:5]:
            print(f'warning: {line}', file=sys.stderr)
        if len(run.skipped) > 5:
            print(f'warning: {len(run.skipped) - 5} more damaged lines left out of '
                  f'{run.work_dir}', file=sys.stderr)
    print(f'curves: {out}')
    for run in runs:
        best = [f'{k} {b[1]:.4g} at iter {b[0]}' for k in run.val
                if k.endswith('/fid') and (b := best_point(run, k))]
        print(f'  {run.name}: to iter {run.last_step} from {len(run.files)} log folder(s)'
              + (f'; best {", ".join(best)}' if best else ''))


if __name__ == '__main__':
    run_cli(main)

#!/usr/bin/env python
"""Last step of the quickstart: draw the grid and print where everything is.

Writes ``<work_dir>/quickstart_grid.png``: for each direction, columns of test
images with rows real / CAM heatmap / reconstruction / translation / cycle (the
official NICE-GAN panel), both directions stacked, labelled (direction, row names,
source file names), and ``<work_dir>/curves.png``: the run's training curves
(``tools/plot_curves.py``). Prints FID and KID x 100 of both directions by the paper's
protocol (``tools/eval_folders.py``) on the test translations.
"""
import argparse
import glob
import json
import os.path as osp

from nicegan_plugin.utils.cli import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data', required=True, help='dataset root (testA/testB)')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--num', type=int, default=6, help='test images per direction')
    args = parser.parse_args()

    from nicegan_plugin.apis import collect_images, images_from_files, load_model
    from nicegan_plugin.evaluation import evaluate_test_translations
    from nicegan_plugin.utils.image_io import save_bgr
    from nicegan_plugin.visualization import labelled_cam_grid
    from nicegan_plugin.visualization.curves import save_curves
    model = load_model(args.config, args.checkpoint, device='cpu')
    a, b = model.domains
    files = {d: [p for p, _ in collect_images(osp.join(args.data, f'test{x}'))][:args.num]
             for d, x in ((a, 'A'), (b, 'B'))}
    grid = labelled_cam_grid(model, {d: images_from_files(model, fs) for d, fs in files.items()},
                             {d: [osp.basename(p) for p in fs] for d, fs in files.items()})
    grid_path = osp.join(args.work_dir, 'quickstart_grid.png')
    save_bgr(grid_path, grid)
    curves_path = osp.join(args.work_dir, 'curves.png')
    save_curves([args.work_dir], curves_path)

    test_dir = osp.join(args.work_dir, 'test')
    metrics_path = osp.join(test_dir, 'metrics.json')
    metrics = json.load(open(metrics_path)) if osp.isfile(metrics_path) else {}
    paper = evaluate_test_translations(args.data, osp.join(test_dir, 'translations'), (a, b),
                                       device='cpu')
    panels = sorted(glob.glob(osp.join(args.work_dir, '*', 'vis_data', 'vis_image', '*.png')))
    print('\n' + '=' * 72)
    print('NICE-GAN quickstart finished')
    print(f'  checkpoint          {args.checkpoint}')
    print(f'  grid (open this)    {grid_path}')
    print(f'                      rows: real / CAM heatmap / reconstruction / translation /'
          f' cycle; top {a}->{b}, bottom {b}->{a} (labelled)')
    print('  FID / KID x100      standard FID Inception, paper protocol (tools/eval_folders.py)'
          ' on the test translations:')
    for direction, r in paper.items():
        print(f"      {direction:<16}FID {r['fid']:9.3f}   KIDx100 {r['kid_x100']:8.3f} "
              f"(std x100 {r['kid_std_x100']:.3f}; {r['n_real']} real, {r['n_fake']} fake)")
    print(f'  training curves     {curves_path}')
    print(f'                      D/G losses per domain, learning rates, FID/KID per validation'
          f' (redraw, also during training: python tools/plot_curves.py {args.work_dir})')
    print(f'  test translations   {osp.join(test_dir, "translations")}/fake_{{{a},{b}}}')
    print(f'  translate tool out  {osp.join(args.work_dir, f"translate_{a}2{b}")}')
    print(f'  CAM panels (train)  {len(panels)} files, e.g. {panels[-1] if panels else "-"}')
    if metrics:
        print(f'  metrics             {metrics_path}')
        for k, v in metrics.items():
            print(f'      {k}: {v}')
    print('=' * 72)


if __name__ == '__main__':
    run_cli(main)

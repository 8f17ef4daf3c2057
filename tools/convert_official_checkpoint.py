#!/usr/bin/env python
"""Convert official NICE-GAN checkpoints to plugin checkpoints, and back.

  official -> plugin:  convert_official_checkpoint.py SRC.pt DST.pth [--domain-a cat --domain-b dog]
      writes DST.pth (loadable by load_from / init_model / tools/test.py / --resume)
      and the matching model config DST.py (architecture inferred from tensor shapes)
  plugin -> official:  convert_official_checkpoint.py SRC.pth DST.pt --to-official
      writes the official dict (gen2B, gen2A, disA, disB, D_optimizer, G_optimizer,
      start_iter) with official key names, loadable by the official NICE.py.

Domain A of the official code is the source of gen2B (e.g. cat for cat2dog).
"""
import argparse
import os.path as osp

from nicegan_plugin.utils.cli import ToolError, UsageError, run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='checkpoint to convert')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--domain-a', default=None, help="name of official domain A (default 'A')")
    parser.add_argument('--domain-b', default=None, help="name of official domain B (default 'B')")
    parser.add_argument('--img-size', type=int, default=None,
                        help='training size of a light model (not in its tensors; default 256)')
    parser.add_argument('--to-official', action='store_true',
                        help='convert a plugin checkpoint to the official format')
    args = parser.parse_args()
    if not osp.isfile(args.src):
        raise UsageError(f'no such file: {args.src}')

    from nicegan_plugin.engine.checkpointing.reading import read_checkpoint
    from nicegan_plugin.official.converter import (
        ConversionError,
        config_text,
        official_to_plugin,
        plugin_to_official,
    )
    from nicegan_plugin.utils.fileio import atomic_torch_save, atomic_write
    ckpt = read_checkpoint(args.src)  # weights-only; a refused file is one error line
    try:
        if args.to_official:
            out = plugin_to_official(ckpt, args.domain_a, args.domain_b)
            atomic_torch_save(out, args.dst)
            print(f'wrote official-format checkpoint {args.dst}')
        else:
            out, model_cfg = official_to_plugin(ckpt, args.domain_a or 'A',
                                                args.domain_b or 'B', args.img_size)
            atomic_torch_save(out, args.dst)
            cfg_path = osp.splitext(args.dst)[0] + '.py'
            atomic_write(cfg_path, config_text(model_cfg, out['meta']['nicegan_arch']['img_size']))
            arch = out['meta']['nicegan_arch']
            print(f'wrote {args.dst} and its config {cfg_path}\n  architecture: {arch}\n'
                  f'  domains: A={model_cfg["reachable_domains"][0]} '
                  f'B={model_cfg["reachable_domains"][1]}; optimizer states: '
                  f'{"yes" if "optimizer" in out else "no"}')
    except ConversionError as e:
        raise ToolError(f'{args.src}: {e}') from e


if __name__ == '__main__':
    run_cli(main)

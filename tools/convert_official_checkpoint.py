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
import os
import os.path as osp
import pprint
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def atomic_save(obj, path: str) -> None:
    import torch
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(path) + '.', dir=folder)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def config_text(model_cfg: dict, img_size: int) -> str:
    a, b = model_cfg['reachable_domains']
    pipeline = [
        dict(type='LoadImageFromFile', key='img_A', color_type='color'),
        dict(type='LoadImageFromFile', key='img_B', color_type='color'),
        dict(type='Resize', keys=['img_A', 'img_B'], scale=(img_size, img_size),
             keep_ratio=False, interpolation='bilinear', backend='pillow'),
        dict(type='KeyMapper', mapping={f'img_{a}': 'img_A', f'img_{b}': 'img_B'},
             remapping={f'img_{a}': f'img_{a}', f'img_{b}': f'img_{b}'}),
        dict(type='PackInputs', keys=[f'img_{a}', f'img_{b}'],
             data_keys=[f'img_{a}', f'img_{b}'], meta_keys=['img_A_path', 'img_B_path']),
    ]
    return ('# Model config written by tools/convert_official_checkpoint.py for a checkpoint\n'
            '# converted from the official NICE-GAN code (architecture inferred from shapes).\n'
            "default_scope = 'mmagic'\n"
            "custom_imports = dict(imports=['nicegan_plugin'], allow_failed_imports=False)\n"
            f'model = {pprint.pformat(model_cfg, sort_dicts=False)}\n'
            f'test_pipeline = {pprint.pformat(pipeline, sort_dicts=False)}\n')


def main() -> int:
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
        print(f'error: no such file: {args.src}', file=sys.stderr)
        return 2

    import torch
    import nicegan_plugin  # noqa: F401  (compat: mmengine checkpoints under weights_only)
    from nicegan_plugin.converter import (ConversionError, official_to_plugin,
                                          plugin_to_official)
    try:
        ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    except Exception as e:  # unpickling errors of all kinds: not a checkpoint we accept
        print(f'error: cannot read {args.src} as a torch checkpoint with weights_only=True: '
              f'{type(e).__name__}: {str(e).splitlines()[0]}', file=sys.stderr)
        return 2
    try:
        if args.to_official:
            out = plugin_to_official(ckpt, args.domain_a, args.domain_b)
            atomic_save(out, args.dst)
            print(f'wrote official-format checkpoint {args.dst}')
        else:
            out, model_cfg = official_to_plugin(ckpt, args.domain_a or 'A',
                                                args.domain_b or 'B', args.img_size)
            atomic_save(out, args.dst)
            cfg_path = osp.splitext(args.dst)[0] + '.py'
            with open(cfg_path, 'w') as f:
                f.write(config_text(model_cfg, out['meta']['nicegan_arch']['img_size']))
            arch = out['meta']['nicegan_arch']
            print(f'wrote {args.dst} and its config {cfg_path}\n  architecture: {arch}\n'
                  f'  domains: A={model_cfg["reachable_domains"][0]} '
                  f'B={model_cfg["reachable_domains"][1]}; optimizer states: '
                  f'{"yes" if "optimizer" in out else "no"}')
    except ConversionError as e:
        print(f'error: {args.src}: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

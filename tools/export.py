#!/usr/bin/env python
"""Export one direction of a NICE-GAN checkpoint as a standalone translator.

Examples::

    python tools/export.py CONFIG CKPT --direction a2b --format onnx --out c2d_a2b.onnx
    python tools/export.py CONFIG CKPT --format torchscript --out c2d_a2b.pt --heatmap \\
        --dynamic-size --verify-images photos/

The file holds the eval-mode translator (source encoder with spectral norms folded,
then the target generator): RGB in [-1, 1], (N, 3, H, W) float32 -> the same (plus
the CAM heatmap with --heatmap). ``<out>.json`` beside it describes the domains,
sizes and value range. The file is checked against the PyTorch model before it is
kept (max abs <= --tolerance); a mismatch removes it and exits with status 1.
"""
import argparse

DIRECTION_HELP = ("a2b: model.domains[0] -> domains[1]; b2a: the reverse; "
                  "'<src>2<tgt>' with domain names also works")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint (trained here, or converted from the '
                        'official code with tools/convert_official_checkpoint.py)')
    parser.add_argument('--out', required=True, help='output file (.onnx / .pt)')
    parser.add_argument('--direction', default='a2b', help=DIRECTION_HELP)
    parser.add_argument('--format', default='onnx', choices=['onnx', 'torchscript'])
    parser.add_argument('--heatmap', action='store_true',
                        help='add the source CAM heatmap as a second output')
    parser.add_argument('--dynamic-size', action='store_true',
                        help='light models: any height/width (multiples of 4 above a '
                        'minimum) instead of the training size only')
    parser.add_argument('--opset', type=int, default=None,
                        help='ONNX opset, 18 (default, the exporter\'s own) or newer')
    parser.add_argument('--verify-images', default=None,
                        help='image file or folder: verify on its first two images '
                        '(default: two synthetic images)')
    parser.add_argument('--tolerance', type=float, default=None,
                        help='max abs difference allowed against PyTorch (default 1e-4)')
    parser.add_argument('--no-verify', action='store_true', help='skip the verification')
    parser.add_argument('--img-size', type=int, nargs='+', default=None, metavar='PX',
                        help='the input size to record and export at (H [W]) instead of '
                        'the size the model was trained at (recorded in the checkpoint)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from nicegan_plugin.apis import load_model
    from nicegan_plugin.deploy.export import (
        DEFAULT_OPSET,
        TOLERANCE,
        VerificationError,
        export_translator,
    )
    from nicegan_plugin.utils.cli import ToolError, UsageError
    from nicegan_plugin.utils.image_io import ImageReadError, collect_images, read_rgb
    if args.opset is not None and args.format != 'onnx':
        raise UsageError('--opset applies to --format onnx only')
    if args.img_size and len(args.img_size) > 2:
        raise UsageError('--img-size takes H or H W')
    try:
        photos = None
        if args.verify_images:
            files = collect_images(args.verify_images)[:2]
            if not files:
                raise ValueError(f'no images found in {args.verify_images}')
            photos = [read_rgb(path) for path, _ in files]
        model = load_model(args.config, args.checkpoint, 'cpu', img_size=args.img_size,
                           log=print)
        spec = export_translator(
            model, args.out, args.direction, args.format, args.heatmap, args.dynamic_size,
            args.opset or DEFAULT_OPSET, not args.no_verify, photos,
            args.tolerance or TOLERANCE, log=print)
    except (FileNotFoundError, KeyError, ValueError, ImageReadError) as err:
        raise UsageError(str(err)) from err
    except VerificationError as err:
        raise ToolError(f'verification failed, {args.out} not written: {err}') from err
    inp = spec['input']
    sizes = (f'any multiple of {inp["size_multiple"]} >= {inp["min_size"]} px'
             if inp['dynamic_size'] else f'{inp["height"]}x{inp["width"]} only')
    print(f'wrote {args.out} ({spec["source_domain"]} -> {spec["target_domain"]}, '
          f'{args.format}, input sizes: {sizes}) and {args.out}.json')
    ver = spec['verification']
    if ver:
        worst = max(r['max_abs'] for r in ver['results'])
        done = ', '.join('{}x{}'.format(*r['size']) for r in ver['results'])
        print(f'verified against PyTorch on {ver["images"]} at {done}: '
              f'max abs {worst:.2e} (tolerance {ver["tolerance"]:g})')


if __name__ == '__main__':
    from nicegan_plugin.utils.cli import run_cli
    run_cli(main)

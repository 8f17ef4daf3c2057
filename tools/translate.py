#!/usr/bin/env python
"""Translate an image or a folder of images with a NICE-GAN checkpoint.

Examples::

    python tools/translate.py CONFIG CKPT --input photo.jpg --output out/
    python tools/translate.py CONFIG CKPT --input testA/ --output fakeB/ --heatmaps
    python tools/translate.py CONFIG CKPT --input testB/ --output fakeA/ --direction b2a

Folders are read recursively; outputs keep the relative paths and file names
(``--heatmaps`` adds ``<stem>_cam<ext>``, the CAM heatmap over the input). Inputs
of any size, grayscale or with alpha are accepted; unreadable files are skipped
and listed at the end. Exit status: 0 if at least one image was translated.
"""
import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint (mmengine format, e.g. converted '
                        'from the official code with tools/convert_official_checkpoint.py)')
    parser.add_argument('--input', required=True, help='image file or folder')
    parser.add_argument('--output', required=True, help='output folder')
    parser.add_argument('--direction', default='a2b',
                        help="a2b: domain_a (model.domains[0]) -> domain_b; b2a: the "
                        "reverse; '<src>2<tgt>' with domain names also works")
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--heatmaps', action='store_true',
                        help='also write the CAM heatmap overlay next to each output')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda if available)')
    size = parser.add_mutually_exclusive_group()
    size.add_argument('--keep-size', dest='keep_size', action='store_true', default=True,
                      help='resize outputs back to the input sizes (default)')
    size.add_argument('--no-resize-back', '--no-keep-size', dest='keep_size',
                      action='store_false', help="keep outputs at the model's size")
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from nicegan_plugin.apis import load_model, translate_images
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        print(f'error: --device {device} requested but CUDA is not available',
              file=sys.stderr)
        return 2
    try:
        model = load_model(args.config, args.checkpoint, device)
        report = translate_images(model, args.input, args.output, args.direction,
                                  args.batch_size, args.heatmaps, args.keep_size,
                                  progress=not args.no_progress)
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(report.summary())
    if not report.outputs:
        print(f'error: nothing was translated from {args.input}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

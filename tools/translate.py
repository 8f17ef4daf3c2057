#!/usr/bin/env python
"""Translate an image or a folder of images with a NICE-GAN checkpoint.

Examples::

    python tools/translate.py CONFIG CKPT --input photo.jpg --output out/
    python tools/translate.py CONFIG CKPT --input testA/ --output fakeB/ --heatmaps
    python tools/translate.py CONFIG CKPT --input testB/ --output fakeA/ --direction b2a
    python tools/translate.py --model c2d_a2b.onnx --input photos/ --output out/
    python tools/translate.py CONFIG CKPT --backend onnxruntime --native-size --input ...

``--model`` takes a file written by tools/export.py (no config needed; its direction
is fixed); ``--backend`` runs a checkpoint through onnxruntime or TorchScript (exported
on the fly). ``--native-size`` (light models) translates each image at its own size,
padded to a multiple of 4, instead of resizing to the training size and back.

Folders are read recursively; outputs keep the relative paths and file names
(``--heatmaps`` adds ``<stem>_cam<ext>``, the CAM heatmap over the input). Inputs
of any size, grayscale or with alpha are accepted; unreadable files are skipped
and listed at the end. Exit status: 0 if at least one image was translated.
"""
import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='model config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (mmengine format, e.g. '
                        'converted from the official code with '
                        'tools/convert_official_checkpoint.py)')
    parser.add_argument('--model', default=None,
                        help='an exported translator (tools/export.py) instead of CONFIG CKPT')
    parser.add_argument('--backend', default=None,
                        choices=['pytorch', 'onnxruntime', 'torchscript'],
                        help='default: pytorch for CONFIG CKPT, from the file for --model')
    parser.add_argument('--native-size', action='store_true',
                        help='light models: translate at each image\'s own size (padded to '
                        'a multiple of 4, cropped back) instead of resizing')
    parser.add_argument('--input', required=True, help='image file or folder')
    parser.add_argument('--output', required=True, help='output folder')
    parser.add_argument('--direction', default=None,
                        help="a2b (default): domain_a (model.domains[0]) -> domain_b; b2a: "
                        "the reverse; '<src>2<tgt>' with domain names also works")
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
    from nicegan_plugin.apis.backends import open_translator
    from nicegan_plugin.apis.export import model_backend
    if args.model and (args.config or args.checkpoint):
        print('error: pass either CONFIG CHECKPOINT or --model FILE, not both', file=sys.stderr)
        return 2
    if not args.model and not (args.config and args.checkpoint):
        print('error: pass CONFIG CHECKPOINT, or --model FILE (a file written by '
              'tools/export.py)', file=sys.stderr)
        return 2
    if args.model and args.backend == 'pytorch':
        print('error: --backend pytorch needs CONFIG CHECKPOINT; an exported file runs '
              'with --backend onnxruntime (ONNX) or torchscript', file=sys.stderr)
        return 2
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        print(f'error: --device {device} requested but CUDA is not available',
              file=sys.stderr)
        return 2
    try:
        if args.model:
            model = open_translator(args.model, args.backend, device)
            if args.direction:
                model.check_direction(args.direction)
        else:
            model = load_model(args.config, args.checkpoint, device)
            if args.backend not in (None, 'pytorch'):
                model = model_backend(model, args.backend, args.direction or 'a2b',
                                      args.heatmaps)
        report = translate_images(model, args.input, args.output, args.direction or 'a2b',
                                  args.batch_size, args.heatmaps, args.keep_size,
                                  progress=not args.no_progress,
                                  native_size=args.native_size)
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(report.summary())
    if not report.outputs:
        print(f'error: nothing was translated from {args.input}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    from nicegan_plugin.apis.cli import run_cli
    run_cli(main)

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
on the fly). Images are resized to the size the model was trained at (recorded in the
checkpoint; ``--img-size`` asks for another) and back. ``--native-size`` (light models)
translates each image at its own size, padded to a multiple of 4; ``--tile N`` does it
tile by tile, exactly, in memory bounded by the tile; ``--max-memory SIZE`` picks whole
or tiled per image (on CUDA by default from the free memory). Every path uses the
model's eval-mode generators (the EMA generators when the model was trained with them).

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
    parser.add_argument('--tile', type=int, default=None,
                        help='with --native-size: translate tile by tile (tiles of N px), '
                        'exactly, in memory bounded by the tile')
    parser.add_argument('--max-memory', default=None,
                        help='with --native-size: memory budget (e.g. 8G): each image is '
                        'translated whole if it fits, else tiled (default on CUDA: 80%% of '
                        'the free GPU memory)')
    parser.add_argument('--img-size', type=int, nargs='+', default=None, metavar='PX',
                        help='translate at this size (H [W]) instead of the size the model '
                        'was trained at')
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

    from nicegan_plugin.apis import load_translator, translate_images
    from nicegan_plugin.inference import parse_memory
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        print(f'error: --device {device} requested but CUDA is not available',
              file=sys.stderr)
        return 2
    if (args.tile or args.max_memory) and not args.native_size:
        print('error: --tile and --max-memory apply to --native-size translation',
              file=sys.stderr)
        return 2
    if args.img_size and (args.model or len(args.img_size) > 2):
        print('error: --img-size takes H or H W, with CONFIG CHECKPOINT', file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    try:
        max_memory = parse_memory(args.max_memory) if args.max_memory else None
        translator = load_translator(args.config, args.checkpoint, args.model, args.direction,
                                     args.backend, device, heatmap=args.heatmaps,
                                     img_size=args.img_size, log=log)
        if (args.native_size and max_memory is None and args.tile is None
                and device.startswith('cuda') and translator.supports_tiling):
            max_memory = int(torch.cuda.mem_get_info(torch.device(device))[0] * 0.8)
        report = translate_images(translator, args.input, args.output,
                                  args.direction or 'a2b', args.batch_size, args.heatmaps,
                                  args.keep_size, progress=not args.no_progress,
                                  native_size=args.native_size, tile=args.tile,
                                  max_memory=max_memory, log=log)
    except (FileNotFoundError, KeyError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(report.summary())
    if not report.outputs:
        print(f'error: nothing was translated from {args.input}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    from nicegan_plugin.utils.cli import run_cli
    run_cli(main)

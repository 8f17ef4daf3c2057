#!/usr/bin/env python
"""Serve a web demo of a NICE-GAN model: upload a photo, get its translation.

Examples::

    python tools/demo.py CONFIG CKPT                      # http://127.0.0.1:7860
    python tools/demo.py CONFIG CKPT --direction b2a --port 8000 --examples photos/
    python tools/demo.py --model c2d_a2b.onnx             # an exported file (onnxruntime)

A visitor uploads a photo or picks an example, chooses the direction (both for a
checkpoint; the exported file's one direction for ``--model``) and gets the translation,
the CAM heatmap over the photo and, for light models, a native-size option. Photos take
the path of tools/translate.py (same reading, sizes and translator). Examples: the images
under ``--examples DIR``; by default a few test images of the config's dataset when they
exist (the quickstart's). The server listens on 127.0.0.1 only unless ``--host`` says
otherwise; Ctrl-C stops it.
"""
import argparse
import sys

LOCAL_HOSTS = ('127.0.0.1', 'localhost', '::1')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', help='model config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint (mmengine format)')
    parser.add_argument('--model', default=None,
                        help='an exported translator (tools/export.py) instead of CONFIG CKPT')
    parser.add_argument('--backend', default=None, choices=['onnxruntime', 'torchscript'],
                        help='for --model: default from the file')
    parser.add_argument('--direction', default=None,
                        help="direction selected first: a2b (default), b2a or '<src>2<tgt>'")
    parser.add_argument('--examples', default=None,
                        help='folder of example photos (default: a few test images of '
                        "the config's dataset, if present)")
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default 127.0.0.1: this machine only)')
    parser.add_argument('--port', type=int, default=None,
                        help='port (default: the first free one from 7860)')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda or cuda:N (default: cuda if available)')
    parser.add_argument('--max-pixels', type=int, default=None,
                        help='largest photo accepted, in pixels (default 40e6)')
    parser.add_argument('--tile', type=int, default=None,
                        help='native size: translate tile by tile (tiles of N px; light '
                        'models in PyTorch), which lifts the native-size limit of 4e6 px')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    from nicegan_plugin.apis.demo import (
        MAX_PIXELS,
        TranslationDemo,
        build_app,
        find_examples,
        launch_app,
        open_demo_translators,
    )
    from nicegan_plugin.utils.cli import UsageError
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise UsageError(f'--device {device} requested but CUDA is not available')
    try:
        translators = open_demo_translators(args.config, args.checkpoint, args.model,
                                            device, args.backend)
        examples = find_examples(args.examples, args.config)
        demo = TranslationDemo(translators, examples, args.max_pixels or MAX_PIXELS,
                               tile=args.tile)
        app = build_app(demo, args.direction)
    except (FileNotFoundError, KeyError, ValueError) as err:
        raise UsageError(str(err)) from err
    print(demo.describe())
    print(f'{len(examples)} example photo(s)')
    if args.host not in LOCAL_HOSTS:
        print(f'note: listening on {args.host}: anyone who can reach this machine can use '
              'the demo', file=sys.stderr)
    url = launch_app(app, args.host, args.port, quiet=True)
    print(f'demo running at {url} (Ctrl-C stops it)', flush=True)
    try:
        app.block_thread()
    finally:
        app.close()


if __name__ == '__main__':
    from nicegan_plugin.utils.cli import run_cli
    run_cli(main)

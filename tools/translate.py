#!/usr/bin/env python
"""Translate images, videos or a folder of both with a NICE-GAN checkpoint.

Examples::

    python tools/translate.py CONFIG CKPT --input photo.jpg --output out/
    python tools/translate.py CONFIG CKPT --input testA/ --output fakeB/ --heatmaps
    python tools/translate.py CONFIG CKPT --input testB/ --output fakeA/ --direction b2a
    python tools/translate.py --model c2d_a2b.onnx --input photos/ --output out/
    python tools/translate.py CONFIG CKPT --backend onnxruntime --native-size --input ...
    python tools/translate.py CONFIG CKPT --input clip.mp4 --output out/ [--steady]

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
and listed at the end.

Videos (.mp4, .mkv, .mov, .webm, ...: docs/video.md) are translated frame by frame
through the same path and written with the same name, frame count, timestamps, size and
codec (where this PyAV build has its encoder), their audio copied unchanged; frames
stream, so memory does not depend on the clip's length. ``--steady [M]`` holds the
generator's style and normalisation statistics steady over a clip (less flicker, not
frame-exact). A clip with a broken frame keeps the frames before it (the summary says
where it stopped). Exit status: 0 if at least one image or video was translated.
"""
import argparse
import os.path as osp
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
                        help='with --native-size: memory budget (e.g. 8G) for what the '
                        'network adds to translate one image (its feature maps or tiles and '
                        'the float32 output): each image is translated whole if that fits, '
                        'else tiled, else skipped with its reason. Not in the budget: '
                        'Python, torch and the model (~1.4 GB with the paper networks) and '
                        'up to 20 bytes per image pixel for the decoded image and its '
                        'float32 input (docs/large_images.md). Default on CUDA: 80%% of the '
                        'free GPU memory')
    parser.add_argument('--img-size', type=int, nargs='+', default=None, metavar='PX',
                        help='translate at this size (H [W]) instead of the size the model '
                        'was trained at')
    parser.add_argument('--input', required=True, help='image or video file, or folder')
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
    parser.add_argument('--steady', type=float, nargs='?', const=0.97, default=None,
                        metavar='M', help='videos: hold the generator\'s style and '
                        'normalisation statistics steady over a clip (moving average, '
                        'weight M of the past; 0.97 when M is left out): less flicker, not '
                        'frame-exact; CONFIG CKPT in PyTorch only (docs/video.md)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    from nicegan_plugin.apis import load_translator, translate_images
    from nicegan_plugin.inference import parse_memory
    from nicegan_plugin.inference.steady import steady_translator
    from nicegan_plugin.inference.video import check_output_folder, translate_videos
    from nicegan_plugin.inference.video_io import (
        VideoReadError,
        VideoWriteError,
        collect_videos,
        is_video_file,
    )
    from nicegan_plugin.utils.cli import ToolError, UsageError
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise UsageError(f'--device {device} requested but CUDA is not available')
    if (args.tile or args.max_memory) and not args.native_size:
        raise UsageError('--tile and --max-memory apply to --native-size translation')
    if args.steady is not None and (args.tile or args.max_memory):
        raise UsageError('--steady translates whole frames; drop --tile / --max-memory')
    if args.img_size and (args.model or len(args.img_size) > 2):
        raise UsageError('--img-size takes H or H W, with CONFIG CHECKPOINT')

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    try:
        videos = collect_videos(args.input)
        only_video = is_video_file(args.input) and not osp.isdir(args.input)
        check_output_folder(args.output)
        max_memory = parse_memory(args.max_memory) if args.max_memory else None
        translator = load_translator(args.config, args.checkpoint, args.model, args.direction,
                                     args.backend, device, heatmap=args.heatmaps,
                                     img_size=args.img_size, log=log)
        if (args.native_size and max_memory is None and args.tile is None
                and device.startswith('cuda') and translator.supports_tiling):
            max_memory = int(torch.cuda.mem_get_info(torch.device(device))[0] * 0.8)
        video_translator = steady_translator(translator, args.steady if videos else None)
        if args.steady is not None and not videos:
            log('note: --steady applies to videos; there is none under ' + args.input)
        if args.heatmaps and videos:
            log('note: --heatmaps applies to images; videos are written without heatmaps')
        report = None
        if not only_video:
            report = translate_images(translator, args.input, args.output,
                                      args.direction or 'a2b', args.batch_size, args.heatmaps,
                                      args.keep_size, progress=not args.no_progress,
                                      native_size=args.native_size, tile=args.tile,
                                      max_memory=max_memory, log=log)
        clips = translate_videos(video_translator, args.input, args.output, args.batch_size,
                                 args.keep_size, args.native_size, args.tile,
                                 None if args.steady is not None else max_memory,
                                 progress=not args.no_progress, log=log)
    except (FileNotFoundError, KeyError, ValueError, VideoReadError, VideoWriteError) as err:
        raise UsageError(str(err)) from err
    if report is not None and (report.outputs or report.failed or not videos):
        print(report.summary())
    if videos:
        print(clips.summary())
    if not (report and report.outputs) and not clips.outputs:
        raise ToolError(f'nothing was translated from {args.input}')


if __name__ == '__main__':
    from nicegan_plugin.utils.cli import run_cli
    run_cli(main)

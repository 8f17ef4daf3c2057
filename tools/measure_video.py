#!/usr/bin/env python
"""Video harness: make a test clip from a photo, measure flicker and speed, draw frames.

Subcommands::

    # a clip from a real photo: a slow pan/zoom, or a second photo sliding across a still
    # shot; FFV1 (lossless) in .mkv, H.264 in .mp4; a 440 Hz tone as audio
    python tools/measure_video.py make-clip tests/data/photos/cat/<photo>.jpg clip.mkv \
        --motion pan --frames 50 --size 128 160
    # plain vs steady translation of a clip: frames/s, still-region flicker, warping error
    python tools/measure_video.py measure CONFIG CKPT clip.mkv --work-dir out/ --steady 0.9 0.97
    # frames of a clip and of its translations side by side (a PNG for the docs)
    python tools/measure_video.py strip clip.mkv out/plain/clip.mkv --labels input plain \
        --frames 0 24 49 --out strip.png

``measure`` without CKPT runs random weights (speed only). The metrics are defined in
nicegan_plugin/benchmarks/video.py and docs/video.md.
"""
import argparse
import json
import resource


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    make = sub.add_parser('make-clip', help='a clip from a photo')
    make.add_argument('photo')
    make.add_argument('out', help='.mkv (FFV1 + FLAC) or .mp4 (H.264 + AAC)')
    make.add_argument('--motion', choices=['pan', 'object'], default='pan')
    make.add_argument('--other', default=None, help="the photo sliding across ('object')")
    make.add_argument('--frames', type=int, default=50)
    make.add_argument('--size', type=int, nargs=2, default=[128, 160], metavar=('H', 'W'))
    make.add_argument('--fps', type=int, default=25)
    make.add_argument('--no-audio', action='store_true')
    measure = sub.add_parser('measure', help='plain vs steady: frames/s and flicker')
    measure.add_argument('config')
    measure.add_argument('checkpoint', nargs='?', default=None,
                         help='default: random weights (for speed only)')
    measure.add_argument('clip')
    measure.add_argument('--work-dir', required=True, help='translated clips go here')
    measure.add_argument('--direction', default='a2b')
    measure.add_argument('--backend', default='pytorch', choices=['pytorch', 'onnxruntime'])
    measure.add_argument('--steady', type=float, nargs='*', default=[0.97], metavar='M',
                         help='momenta to compare with plain (PyTorch only; none: plain only)')
    measure.add_argument('--native-size', action='store_true')
    measure.add_argument('--batch-size', type=int, default=1)
    measure.add_argument('--threads', type=int, default=None, help='torch intra-op threads')
    measure.add_argument('--no-flow', action='store_true', help='skip the warping error')
    measure.add_argument('--json', default=None, help='also write the rows as JSON')
    strip = sub.add_parser('strip', help='frames of clips side by side (PNG)')
    strip.add_argument('clips', nargs='+')
    strip.add_argument('--labels', nargs='+', required=True)
    strip.add_argument('--frames', type=int, nargs='+', required=True)
    strip.add_argument('--height', type=int, default=128)
    strip.add_argument('--out', required=True)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from nicegan_plugin.benchmarks import video
    from nicegan_plugin.utils.cli import UsageError
    if args.command == 'make-clip':
        from nicegan_plugin.utils.image_io import read_rgb
        other = read_rgb(args.other) if args.other else None
        video.make_clip(args.out, read_rgb(args.photo), args.frames, tuple(args.size),
                        args.motion, other, args.fps, audio=not args.no_audio)
        print(f'wrote {args.out}')
        return
    if args.command == 'strip':
        if len(args.labels) != len(args.clips):
            raise UsageError('give one --labels entry per clip')
        video.frame_strip(args.clips, args.labels, args.frames, args.out, args.height)
        print(f'wrote {args.out}')
        return
    import torch

    from nicegan_plugin.apis.loading import load_model, translator_for
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.backend != 'pytorch' and args.steady:
        raise UsageError('--steady needs --backend pytorch (pass --steady with no value)')
    torch.manual_seed(0)
    model = load_model(args.config, args.checkpoint, 'cpu')
    translator = translator_for(model, args.backend, args.direction)
    rows = video.compare_steady(translator, args.clip, args.work_dir, args.steady,
                                args.batch_size, native_size=args.native_size,
                                flow=not args.no_flow, log=print)
    print(video.markdown_table(rows))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'peak RSS {peak:.0f} MiB, {torch.get_num_threads()} threads')
    if args.json:
        from nicegan_plugin.utils.fileio import atomic_write
        atomic_write(args.json, json.dumps(rows, indent=1) + '\n')


if __name__ == '__main__':
    from nicegan_plugin.utils.cli import run_cli
    run_cli(main)

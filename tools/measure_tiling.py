"""Measure whole-image vs tiled native-size translation: peak memory and time per megapixel.

Each (size, mode) runs in its own subprocess, so that its peak RSS (VmHWM) is its own;
on the CPU the subprocess caps its address space (RLIMIT_AS, like ``ulimit -v``) at its
start-up size plus ``--cap-gb``, so a run that would not fit fails with an allocation error
instead of pushing the machine into swap or the OOM killer. A whole-image run whose
estimate (:func:`estimate_whole_bytes`) is over the cap is not started; the largest
photo whole-image translation handles is extrapolated from the measured bytes per pixel
(a least-squares line through the whole-image runs), and the tiled one is bounded by the
disk for the temporary maps and the host memory for the input and output.

Columns: peak RSS (VmHWM) of the run's process, the part of it the translation added
(VmHWM minus VmRSS with the model and the input loaded), process CPU seconds (all
threads) and wall seconds per megapixel, and the 1-minute load average at the end (other
jobs on the machine stretch wall time, much less CPU time).

Networks: the paper's light architecture (ch 64, 6 blocks, n_dis 7), random weights,
eval mode, a random image in [-1, 1] (time and memory do not depend on the values).

Examples::

    python tools/measure_tiling.py                        # 1, 4, 12, 24 MP, tile 512
    python tools/measure_tiling.py --megapixels 1 --modes tiled --tile 256 1024
    python tools/measure_tiling.py --device cuda          # max_memory_allocated too
"""
import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from nicegan_plugin.utils.cli import run_cli

GIB = 1024 ** 3
MIB = 1024 ** 2


def _status(key: str) -> int:
    """A /proc/self/status size in bytes (VmRSS, VmHWM, VmSize)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    raise KeyError(f'{key} not in /proc/self/status')


def _networks(device: str):
    import torch

    from nicegan_plugin.models import NICEGANDiscriminator, NICEGANGenerator
    torch.manual_seed(0)
    gen = NICEGANGenerator(base_channels=64, num_blocks=6, light=True).eval().to(device)
    disc = NICEGANDiscriminator(base_channels=64, num_layers=7).eval().to(device)
    return disc, gen


def child(args) -> None:
    """One measurement; prints one JSON line."""
    import torch

    from nicegan_plugin.inference.tiled import tiled_translate
    disc, gen = _networks(args.device)
    cuda = args.device.startswith('cuda')

    def translate(x):
        if args.mode == 'whole':
            y = gen(disc.encode(x))
            return y.cpu() if cuda else y
        return tiled_translate(disc, gen, x, args.tile, storage=args.storage)[0]

    with torch.no_grad():
        translate(torch.zeros(1, 3, 96, 96, device=args.device))  # one-time kernel set-up
        gen_ = torch.Generator().manual_seed(0)
        x = (torch.rand(1, 3, args.height, args.width, generator=gen_) * 2 - 1).to(args.device)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        base = _status('VmRSS')
        if not cuda:  # (the CUDA driver reserves address space far beyond any such cap)
            cap = _status('VmSize') + int(args.cap_gb * GIB)
            resource.setrlimit(resource.RLIMIT_AS,
                               (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
        result = dict(mode=args.mode, height=args.height, width=args.width,
                      tile=args.tile if args.mode == 'tiled' else None, base_rss=base)
        start, cpu = time.perf_counter(), time.process_time()
        try:
            translate(x)
            if cuda:
                torch.cuda.synchronize()
            result.update(ok=True, seconds=time.perf_counter() - start,
                          cpu_seconds=time.process_time() - cpu, load=os.getloadavg()[0])
        except (RuntimeError, MemoryError) as err:  # allocation over the cap
            result.update(ok=False, error=str(err).splitlines()[0][:160])
        result.update(peak_rss=_status('VmHWM'))
        if cuda:
            result.update(max_memory_allocated=torch.cuda.max_memory_allocated())
    print(json.dumps(result), flush=True)


def _size(megapixels: float, aspect: float):
    """(height, width), multiples of 4, about ``megapixels`` with width/height = aspect."""
    h = math.sqrt(megapixels * 1e6 / aspect)
    h4 = max(2, round(h / 4))
    return 4 * h4, 4 * max(2, round(h * aspect / 4))


def _run_child(args, mode: str, h: int, w: int, tile: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), '--child', '--mode', mode,
           '--height', str(h), '--width', str(w), '--tile', str(tile),
           '--storage', args.storage, '--device', args.device, '--cap-gb', str(args.cap_gb)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ['no output'])[-1]
        return dict(mode=mode, height=h, width=w, tile=tile, ok=False,
                    error=f'exit {proc.returncode}: {tail}')
    return json.loads(lines[-1])


def _meminfo(key: str) -> int:
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _mem_total() -> int:
    return _meminfo('MemTotal')


def _mem_available() -> int:
    return _meminfo('MemAvailable')


def _row(r: dict) -> str:
    mp = r['height'] * r['width'] / 1e6
    mode = r['mode'] + (f' (tile {r["tile"]})' if r.get('tile') else '')
    if r.get('ok'):
        extra = (f' | {r["max_memory_allocated"] / MIB:.0f}' if 'max_memory_allocated' in r
                 else '')
        return (f'| {mp:.1f} | {r["height"]}x{r["width"]} | {mode} | '
                f'{r["peak_rss"] / MIB:.0f} | {(r["peak_rss"] - r["base_rss"]) / MIB:.0f} | '
                f'{r["cpu_seconds"] / mp:.0f} | {r["seconds"] / mp:.0f} | {r["load"]:.1f}'
                f'{extra} |')
    return f'| {mp:.1f} | {r["height"]}x{r["width"]} | {mode} | - | - | - | - | {r["error"]} |'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--megapixels', type=float, nargs='+', default=[1, 4, 12, 24])
    parser.add_argument('--modes', nargs='+', choices=('whole', 'tiled'),
                        default=['whole', 'tiled'])
    parser.add_argument('--tile', type=int, nargs='+', default=[512],
                        help='tile sizes of the tiled runs (image pixels)')
    parser.add_argument('--aspect', type=float, default=4 / 3, help='width / height')
    parser.add_argument('--storage', choices=('disk', 'memory'), default='disk')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cap-gb', type=float, default=16.0,
                        help='address-space cap of each run beyond its start-up size (GiB)')
    parser.add_argument('--json', help='also write the results to this file')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--mode', help=argparse.SUPPRESS)
    parser.add_argument('--height', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--width', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.tile = args.tile[0]
        return child(args)

    from nicegan_plugin.inference.tiled import estimate_whole_bytes, store_bytes
    disc, gen = _networks('cpu')
    cuda = args.device.startswith('cuda')
    print('| MP | size | mode | peak RSS (MB) | added (MB) | CPU s / MP | wall s / MP | load |'
          + (' max_memory_allocated (MB) |' if cuda else ''))
    print('|---|---|---|---|---|---|---|---|' + ('---|' if cuda else ''))
    results = []
    for mp in args.megapixels:
        h, w = _size(mp, args.aspect)
        for mode in args.modes:
            for tile in (args.tile if mode == 'tiled' else [0]):
                est = estimate_whole_bytes(disc, gen, h, w)
                cap = min(args.cap_gb * GIB, _mem_available() - 2 * GIB)
                if mode == 'whole' and not cuda and est > cap:
                    r = dict(mode=mode, height=h, width=w, ok=False,
                             error=f'not run: estimate {est / GIB:.1f} GiB > cap '
                                   f'{cap / GIB:.1f} GiB (--cap-gb, or free memory - 2 GiB)')
                else:
                    r = _run_child(args, mode, h, w, tile)
                results.append(r)
                print(_row(r), flush=True)

    total = _mem_total()
    whole = [r for r in results if r['mode'] == 'whole' and r.get('ok')]
    if len(whole) >= 2:  # least squares: added bytes = a + b * pixels
        px = [r['height'] * r['width'] for r in whole]
        added = [r['peak_rss'] - r['base_rss'] for r in whole]
        mx, my = sum(px) / len(px), sum(added) / len(added)
        b = sum((p - mx) * (a - my) for p, a in zip(px, added)) / \
            sum((p - mx) ** 2 for p in px)
        a = my - b * mx
        base = min(r['base_rss'] for r in whole)
        largest = (total - base - a) / b
        print(f'\nwhole image: {b:.0f} bytes per pixel + {a / MIB:.0f} MiB (fit of '
              f'{len(whole)} runs); with {total / GIB:.1f} GiB and a {base / MIB:.0f} MiB '
              f'process: largest ~{largest / 1e6:.1f} MP (extrapolated)')
    tiled = [r for r in results if r['mode'] == 'tiled' and r.get('ok')]
    if tiled:
        free = shutil.disk_usage(tempfile.gettempdir()).free
        per_px_disk = store_bytes(disc, gen, 4000, 4000) / 16e6
        base = max(r['peak_rss'] - 13 * r['height'] * r['width'] for r in tiled)
        by_disk = free / per_px_disk
        by_host = (total - base) / (12 + 13)  # input float32 + output and heatmap
        print(f'tiled: {per_px_disk:.0f} bytes per pixel of temporary files '
              f'({free / GIB:.0f} GiB free in {tempfile.gettempdir()}: {by_disk / 1e6:.0f} MP), '
              f'25 bytes per pixel of host memory for the input/output tensors '
              f'({by_host / 1e6:.0f} MP): largest ~{min(by_disk, by_host) / 1e6:.0f} MP')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return 0 if all(r.get('ok') or 'not run' in r.get('error', '') for r in results) else 1


if __name__ == '__main__':
    run_cli(main)

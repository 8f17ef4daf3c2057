"""Whole-image vs tiled native-size translation: peak memory and time per megapixel (the
logic of tools/measure_tiling.py; the numbers in docs/large_images.md).

Each (size, mode) runs in its own subprocess (:func:`run_measurement`, which runs
:func:`measure_one` there), so that its peak RSS (VmHWM) is its own; on the CPU the
subprocess caps its address space (RLIMIT_AS, like ``ulimit -v``) at its start-up size
plus ``cap_gb``, so a run that would not fit fails with an allocation error instead of
pushing the machine into swap or the OOM killer. A whole-image run whose estimate
(:func:`~nicegan_plugin.inference.tiled.estimate_whole_bytes`) is over the cap is not
started; the largest photo whole-image translation handles is extrapolated from the
measured bytes per pixel (a least-squares line through the whole-image runs), and the
tiled one is bounded by the disk for the temporary maps and the host memory for the input
and output (:func:`capacity_lines`).

Columns (:func:`format_row`): peak RSS (VmHWM) of the run's process, the part of it the
translation added (VmHWM minus VmRSS with the model and the input loaded), process CPU
seconds (all threads) and wall seconds per megapixel, and the 1-minute load average at the
end (other jobs on the machine stretch wall time, much less CPU time).

Networks: the paper's light architecture (ch 64, 6 blocks, n_dis 7), random weights, eval
mode, a random image in [-1, 1] (time and memory do not depend on the values).
"""
import json
import math
import os
import os.path as osp
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

GIB = 1024 ** 3
MIB = 1024 ** 2
MODES = ('whole', 'tiled')

Row = Dict[str, Any]
Log = Callable[[str], None]


def _proc_bytes(key: str, path: str = '/proc/self/status') -> int:
    """A size in bytes from ``path`` (/proc/self/status: VmRSS, VmHWM, VmSize;
    /proc/meminfo: MemTotal)."""
    with open(path) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    raise KeyError(f'{key} not in {path}')


def networks(device: str = 'cpu') -> tuple:
    """(discriminator, generator): the paper's light networks, seed 0, eval mode."""
    import torch

    from ..models import NICEGANDiscriminator, NICEGANGenerator
    torch.manual_seed(0)
    gen = NICEGANGenerator(base_channels=64, num_blocks=6, light=True).eval().to(device)
    disc = NICEGANDiscriminator(base_channels=64, num_layers=7).eval().to(device)
    return disc, gen


def image_size(megapixels: float, aspect: float) -> Tuple[int, int]:
    """(height, width), multiples of 4, about ``megapixels`` with width/height = aspect."""
    h = math.sqrt(megapixels * 1e6 / aspect)
    return 4 * max(2, round(h / 4)), 4 * max(2, round(h * aspect / 4))


def measure_one(mode: str, height: int, width: int, tile: int, storage: str = 'disk',
                device: str = 'cpu', cap_gb: float = 16.0) -> Row:
    """One translation of a random (1, 3, height, width) image in THIS process, which it
    leaves capped (CPU: RLIMIT_AS): run it in a subprocess (:func:`run_measurement`)."""
    import torch

    from ..inference.tiled import tiled_translate
    disc, gen = networks(device)
    cuda = device.startswith('cuda')

    def translate(x):
        if mode == 'whole':
            y = gen(disc.encode(x))
            return y.cpu() if cuda else y
        return tiled_translate(disc, gen, x, tile, storage=storage)[0]

    with torch.no_grad():
        translate(torch.zeros(1, 3, 96, 96, device=device))  # one-time kernel set-up
        rng = torch.Generator().manual_seed(0)
        x = (torch.rand(1, 3, height, width, generator=rng) * 2 - 1).to(device)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        base = _proc_bytes('VmRSS')
        if not cuda:  # (the CUDA driver reserves address space far beyond any such cap)
            cap = _proc_bytes('VmSize') + int(cap_gb * GIB)
            resource.setrlimit(resource.RLIMIT_AS,
                               (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
        result = dict(mode=mode, height=height, width=width,
                      tile=tile if mode == 'tiled' else None, base_rss=base)
        start, cpu = time.perf_counter(), time.process_time()
        try:
            translate(x)
            if cuda:
                torch.cuda.synchronize()
            result.update(ok=True, seconds=time.perf_counter() - start,
                          cpu_seconds=time.process_time() - cpu, load=os.getloadavg()[0])
        except (RuntimeError, MemoryError) as err:  # allocation over the cap
            result.update(ok=False, error=str(err).splitlines()[0][:160])
        result.update(peak_rss=_proc_bytes('VmHWM'))
        if cuda:
            result.update(max_memory_allocated=torch.cuda.max_memory_allocated())
    return result


def run_measurement(mode: str, height: int, width: int, tile: int, storage: str = 'disk',
                    device: str = 'cpu', cap_gb: float = 16.0) -> Row:
    """:func:`measure_one` in a fresh Python process; a failed process is a row with
    ``ok=False`` and the last line of its stderr."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (root, os.environ.get('PYTHONPATH')) if p))
    cmd = [sys.executable, '-m', __name__, mode, str(height), str(width), str(tile), storage,
           device, str(cap_gb)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ['no output'])[-1]
        return dict(mode=mode, height=height, width=width, tile=tile, ok=False,
                    error=f'exit {proc.returncode}: {tail}')
    return json.loads(lines[-1])


def measure_tiling(megapixels: Sequence[float] = (1, 4, 12, 24),
                   modes: Sequence[str] = MODES, tiles: Sequence[int] = (512,),
                   aspect: float = 4 / 3, storage: str = 'disk', device: str = 'cpu',
                   cap_gb: float = 16.0, log: Log = lambda row: None) -> List[Row]:
    """One row per (size, mode, tile): each measured in its own process, or (whole image
    on the CPU) not run when its estimate is over the cap (``cap_gb``, or the free
    memory minus 2 GiB). ``log`` gets each row as it comes (:func:`format_row`)."""
    from ..inference.tiled import estimate_whole_bytes
    from ..inference.tiled.storage import host_available
    disc, gen = networks('cpu')
    cuda = device.startswith('cuda')
    results = []
    for mp in megapixels:
        h, w = image_size(mp, aspect)
        for mode in modes:
            for tile in (tiles if mode == 'tiled' else [0]):
                est = estimate_whole_bytes(disc, gen, h, w)
                cap = min(cap_gb * GIB, host_available() - 2 * GIB)
                if mode == 'whole' and not cuda and est > cap:
                    r = dict(mode=mode, height=h, width=w, ok=False,
                             error=f'not run: estimate {est / GIB:.1f} GiB > cap '
                                   f'{cap / GIB:.1f} GiB (--cap-gb, or free memory - 2 GiB)')
                else:
                    r = run_measurement(mode, h, w, tile, storage, device, cap_gb)
                results.append(r)
                log(format_row(r))
    return results


def failed(results: Sequence[Row]) -> List[Row]:
    """Rows that ran and failed (a run not started for its estimate is no failure)."""
    return [r for r in results if not (r.get('ok') or 'not run' in r.get('error', ''))]


def table_header(cuda: bool = False) -> str:
    """The Markdown header of :func:`format_row`'s rows."""
    return ('| MP | size | mode | peak RSS (MB) | added (MB) | CPU s / MP | wall s / MP | load |'
            + (' max_memory_allocated (MB) |' if cuda else '') + '\n'
            + '|---|---|---|---|---|---|---|---|' + ('---|' if cuda else ''))


def format_row(r: Row) -> str:
    """One Markdown row of a measurement (the columns of the module doc)."""
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


def capacity_lines(results: Sequence[Row]) -> List[str]:
    """The largest photo each mode handles on this host: whole image extrapolated from the
    whole-image runs (least squares of added bytes on pixels, two runs or more); tiled
    bounded by the free disk for the temporary maps and host memory for input/output."""
    from ..inference.tiled import store_bytes
    total = _proc_bytes('MemTotal', '/proc/meminfo')
    lines = []
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
        lines.append(f'whole image: {b:.0f} bytes per pixel + {a / MIB:.0f} MiB (fit of '
                     f'{len(whole)} runs); with {total / GIB:.1f} GiB and a {base / MIB:.0f} '
                     f'MiB process: largest ~{largest / 1e6:.1f} MP (extrapolated)')
    tiled = [r for r in results if r['mode'] == 'tiled' and r.get('ok')]
    if tiled:
        disc, gen = networks('cpu')
        free = shutil.disk_usage(tempfile.gettempdir()).free
        per_px_disk = store_bytes(disc, gen, 4000, 4000) / 16e6
        base = max(r['peak_rss'] - 13 * r['height'] * r['width'] for r in tiled)
        by_disk = free / per_px_disk
        by_host = (total - base) / (12 + 13)  # input float32 + output and heatmap
        lines.append(f'tiled: {per_px_disk:.0f} bytes per pixel of temporary files '
                     f'({free / GIB:.0f} GiB free in {tempfile.gettempdir()}: '
                     f'{by_disk / 1e6:.0f} MP), 25 bytes per pixel of host memory for the '
                     f'input/output tensors ({by_host / 1e6:.0f} MP): largest '
                     f'~{min(by_disk, by_host) / 1e6:.0f} MP')
    return lines


if __name__ == '__main__':  # run_measurement's subprocess: one JSON line on stdout
    from ..utils.cli import quiet_third_party_warnings
    quiet_third_party_warnings()
    _mode, _h, _w, _tile, _storage, _device, _cap = sys.argv[1:8]
    print(json.dumps(measure_one(_mode, int(_h), int(_w), int(_tile), _storage, _device,
                                 float(_cap))), flush=True)

"""tools/measure_tiling.py on a tiny photo size: each run in its own process, the table,
the JSON rows (written atomically), and a run over its memory cap failing with status 1."""
import json
import os.path as osp
import subprocess
import sys

from nicegan_plugin.benchmarks.tiling import format_row, image_size

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool(*args):
    return subprocess.run([sys.executable, 'tools/measure_tiling.py', '--megapixels', '0.02',
                           '--tile', '64', *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_measure_tiling_tiny(tmp_path):
    out = tmp_path / 'rows.json'
    proc = _tool('--json', str(out))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = json.loads(out.read_text())
    h, w = image_size(0.02, 4 / 3)
    assert [(r['mode'], r['tile'], r['height'], r['width']) for r in rows] == \
        [('whole', None, h, w), ('tiled', 64, h, w)]
    for r in rows:
        assert r['ok'] and r['peak_rss'] >= r['base_rss'] > 0 and r['cpu_seconds'] > 0
    lines = proc.stdout.splitlines()
    assert lines[0].startswith('| MP | size | mode | peak RSS (MB) |')
    assert lines[2:4] == [format_row(r) for r in rows]
    assert any(line.startswith('tiled: ') and 'largest ~' in line for line in lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['rows.json']  # atomic: no temp


def test_measure_tiling_run_over_its_cap(tmp_path):
    """A tiled run whose process may not grow by 1 MiB fails, is a table row, and the tool
    ends with one error line and status 1."""
    proc = _tool('--modes', 'tiled', '--cap-gb', str(1 / 1024))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == ['error: 1 of 1 runs failed (see the table)']
    row = proc.stdout.splitlines()[2]
    assert '| tiled (tile 64) | - | - | - | - |' in row, row

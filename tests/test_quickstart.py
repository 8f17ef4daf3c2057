"""The README's main job, in a reduced mode (few iterations), through the same script."""
import os
import os.path as osp
import subprocess

import cv2


def test_quickstart_reduced(tmp_path, project_root):
    env = dict(os.environ, QUICKSTART_ITERS='12', WORK_DIR=str(tmp_path / 'work'),
               QUICKSTART_DATA=str(tmp_path / 'data'))
    proc = subprocess.run(['bash', 'tools/quickstart.sh'], cwd=project_root, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert 'NICE-GAN quickstart finished' in out
    assert 'eta:' in out  # MMagic's logger with ETA (from the first few iterations on)
    work = tmp_path / 'work'
    grid = cv2.imread(str(work / 'quickstart_grid.png'))
    # two directions x 5 rows of 64 px (+ an 8 px gap), 6 columns of 64 px, plus the
    # label bands (title and file names on top, row names on the left)
    assert 2 * 5 * 64 + 8 < grid.shape[0] < 2 * 5 * 64 + 8 + 100
    assert 6 * 64 < grid.shape[1] < 6 * 64 + 150
    for direction in ('day -> night', 'night -> day'):  # real FID / KID x 100 printed
        line = next(x for x in out.splitlines() if x.strip().startswith(direction))
        assert 'FID' in line and 'KIDx100' in line and '8 real, 8 fake' in line
    for dom in ('day', 'night'):
        assert len(os.listdir(work / 'test' / 'translations' / f'fake_{dom}')) == 8
    translated = os.listdir(work / 'translate_day2night')
    assert sum(not f.endswith(('_cam.png',)) for f in translated) == 8
    assert osp.isfile(work / 'iter_12.pth')

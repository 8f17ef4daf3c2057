"""Every output is written atomically (temp file in the same folder, renamed into place):
the image writers, their failure modes, temp files never read as images, and
tools/translate.py killed (SIGKILL) while it writes, then run again.

Processes are started here and killed here, by pid; every wait is bounded.
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from nicegan_plugin.evaluation.folders import list_images
from nicegan_plugin.utils.fileio import atomic_path, atomic_write, is_temp_file
from nicegan_plugin.utils.image_io import (
    collect_images,
    encode_rgb,
    is_image_file,
    read_rgb,
    save_bgr,
    save_rgb,
)


def _image(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8)


def _complete(path: str) -> bool:
    """Whether ``path`` decodes to its full pixel data."""
    try:
        with Image.open(path) as img:
            img.load()
        return True
    except (OSError, SyntaxError, ValueError):
        return False


def test_save_rgb_writes_the_pixels_in_the_extensions_format(tmp_path):
    img = _image()
    for name in ('a.png', 'b.PNG', 'c.bmp', 'd.tif', 'e.ppm'):  # lossless: exact
        save_rgb(str(tmp_path / 'sub' / name), img)
        assert np.array_equal(read_rgb(str(tmp_path / 'sub' / name)), img), name
    save_rgb(str(tmp_path / 'f.jpg'), img)
    with Image.open(tmp_path / 'f.jpg') as f:
        assert f.format == 'JPEG'
    save_bgr(str(tmp_path / 'g.png'), img)  # BGR in: the file holds it as RGB
    assert np.array_equal(read_rgb(str(tmp_path / 'g.png')), img[..., ::-1])
    with pytest.raises(ValueError, match=r"no image format for extension '\.xyz'"):
        save_rgb(str(tmp_path / 'h.xyz'), img)
    assert encode_rgb(img, '.png') == (tmp_path / 'sub' / 'a.png').read_bytes()
    names = [n for _, _, files in os.walk(tmp_path) for n in files]
    assert not [n for n in names if is_temp_file(n)]  # nothing left behind


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    """A write that fails (disk full at fsync) leaves the previous file untouched and
    no temp file; an unencodable image touches nothing."""
    path = tmp_path / 'out.png'
    save_rgb(str(path), _image(seed=1))
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_rgb(str(path), _image().astype(np.float64))  # PIL cannot encode it
    real_fsync = os.fsync

    def disk_full(fd):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', disk_full)
    for write in (lambda: save_rgb(str(path), _image(seed=2)),
                  lambda: atomic_write(str(path), b'new')):
        with pytest.raises(OSError, match='No space left'):
            write()
    with pytest.raises(OSError, match='No space left'):
        with atomic_path(str(path)) as tmp:
            Image.fromarray(_image(seed=3)).save(tmp)
    monkeypatch.setattr(os, 'fsync', real_fsync)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ['out.png']


def test_temp_files_are_never_read_as_images(tmp_path):
    """Leftovers of killed writes (atomic_write: ``.<name>.tmp-XXXX``; atomic_path keeps
    the extension: ``.<name>.tmp-XXXX.png``) are not images for any reader."""
    save_rgb(str(tmp_path / 'x.png'), _image())
    for leftover in ('.x.png.tmp-k2j4_a', '.y.png.tmp-a8b9c0.png', 'sub/.z.jpg.tmp-q1w2e3.jpg'):
        os.makedirs(osp.dirname(str(tmp_path / leftover)), exist_ok=True)
        (tmp_path / leftover).write_bytes(b'\x89PNG\r\n\x1a\n truncated')
        assert not is_image_file(leftover) and not is_image_file(osp.basename(leftover))
    assert is_image_file('.hidden.png') and is_image_file('sub/x.PNG')
    assert [rel for _, rel in collect_images(str(tmp_path))] == ['x.png']
    assert list_images(str(tmp_path)) == [str(tmp_path / 'x.png')]


def test_translate_killed_while_writing_leaves_no_broken_file(tmp_path, tiny_checkpoint,
                                                              project_root):
    """tools/translate.py is killed (SIGKILL) the moment its first output appears in the
    output folder (under its final or a temp name) while it writes a large translation:
    no file under a final name is broken; a rerun writes every output, complete."""
    cfg, ckpt = tiny_checkpoint
    src, out = tmp_path / 'in', tmp_path / 'out'
    src.mkdir()
    y, x = np.mgrid[0:2400, 0:2400]
    big = np.stack([(x * 255) // 2400, (y * 255) // 2400, (x + y) % 256], -1).astype(np.uint8)
    Image.fromarray(big).save(src / 'a_big.png', compress_level=1)  # written first
    for i in range(3):
        save_rgb(str(src / f'b{i}.png'), _image(40, 40, seed=i))
    inputs = sorted(os.listdir(src))
    args = [sys.executable, 'tools/translate.py', cfg, ckpt, '--input', str(src), '--output',
            str(out), '--device', 'cpu', '--no-progress']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.Popen(args, cwd=project_root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        seen = []
        while not seen and time.monotonic() < deadline and proc.poll() is None:
            seen = os.listdir(out) if out.is_dir() else []
            time.sleep(0.001)
        assert seen, f'no output appeared (exit {proc.poll()})'
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL  # killed, not finished
    left = sorted(os.listdir(out))
    finals = [n for n in left if not is_temp_file(n)]
    assert len(finals) < len(inputs), left  # it was killed before it finished
    for name in finals:
        assert _complete(str(out / name)), f'{name} is broken under its final name'

    rerun = subprocess.run(args, cwd=project_root, env=env, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert [rel for _, rel in collect_images(str(out))] == inputs
    for name in inputs:
        assert _complete(str(out / name)), name
        assert read_rgb(str(out / name)).shape == read_rgb(str(src / name)).shape

"""What ``--max-memory`` covers, measured: the network's part of a native-size translation
stays within its estimate (so within the budget), and the rest of the process grows by at
most ``IMAGE_BYTES_PER_PIXEL`` per image pixel beside it (decoded image, float32 input,
conversions, encoding), as the option's help and docs/large_images.md say.

Measured in a process of its own (this file run as a script): the peak RSS of the pytest
process depends on what earlier tests left in its heap."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def _status(key: str) -> int:
    with open('/proc/self/status') as f:
        return next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith(key + ':'))


class _Peaks:
    """Peak RSS of this process over a whole call and over nested parts of it, from the
    kernel's high-water mark (reset through /proc/self/clear_refs; a nested reset first
    folds the mark so far into the outer peak)."""

    def __init__(self) -> None:
        self.outer = 0

    def reset(self) -> None:
        self.outer = max(self.outer, _status('VmHWM'))
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')

    def peak(self) -> int:
        self.outer = max(self.outer, _status('VmHWM'))
        return self.outer


def _measured_translator(model, peaks):
    """A TorchTranslator that records what each network call adds to the RSS at its start
    (the input tensor exists by then, as the estimates assume)."""
    from nicegan_plugin.inference import TorchTranslator

    class Measured(TorchTranslator):
        added = []

        def _measure(self, call):
            peaks.reset()
            before = _status('VmRSS')
            out = call()
            self.added.append(_status('VmHWM') - before)
            return out

        def forward(self, x):
            return self._measure(lambda: super(Measured, self).forward(x))

        def forward_tiled(self, x, tile, log=None):
            return self._measure(lambda: super(Measured, self).forward_tiled(x, tile, log))

    return Measured(model, 'a2b')


def _photo(path, h, w):
    """A smooth synthetic photo with grain, as a camera JPEG (decoding it is measured too)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([128 + 90 * np.sin(x / 170 + c) * np.cos(y / 130 - c) for c in range(3)], -1)
    rgb += np.random.default_rng(0).normal(0, 10, rgb.shape).astype(np.float32)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path, quality=92)


def measure(cfg_path: str, ckpt: str, mode: str, folder: str) -> dict:
    """Translate a 4.8 MP JPEG with ``--max-memory`` chosen to give ``mode``; what the
    network calls added (``covered``), the whole call's growth (``total``), the estimate
    for the chosen mode and the budget, in bytes."""
    from nicegan_plugin.apis import load_model, translate_images
    from nicegan_plugin.inference.tiled import estimate_tiled_bytes, estimate_whole_bytes
    model = load_model(cfg_path, ckpt, 'cpu')
    enc, gen = model.discriminators['horse'], model.inference_generator('zebra')
    h, w = 2000, 2400  # 4.8 MP: the image's own bytes dwarf allocator noise
    _photo(osp.join(folder, 'big.jpg'), h, w)
    _photo(osp.join(folder, 'warm.jpg'), 200, 240)
    whole = estimate_whole_bytes(enc, gen, h, w)
    # tiled: small tiles, so that the network's part is small beside the image's own
    budget = whole if mode == 'whole' else estimate_tiled_bytes(enc, gen, h, w, 256)
    peaks = _Peaks()
    translator = _measured_translator(model, peaks)
    log = []
    for name in ('warm.jpg', 'warm.jpg', 'big.jpg'):  # first-use allocations, then measure
        translator.added.clear()
        peaks.reset()
        peaks.outer = base = _status('VmRSS')
        report = translate_images(translator, osp.join(folder, name), osp.join(folder, 'out'),
                                  native_size=True, max_memory=budget, progress=False,
                                  log=log.append)
        assert len(report.outputs) == 1, report.summary()
    total, (covered,) = peaks.peak() - base, translator.added
    chosen = next(line for line in log if line.startswith(f'{h}x{w}:'))
    if ': tiled' in chosen:
        tile = int(chosen.split('(tile ')[1].split(')')[0])
        estimate = estimate_tiled_bytes(enc, gen, h, w, tile)
    else:
        estimate = whole
    return dict(h=h, w=w, chosen=chosen, covered=covered, total=total, estimate=estimate,
                budget=budget)


@pytest.mark.parametrize('mode', ['tiled', 'whole'])
def test_budget_covers_the_network_and_the_image_adds_at_most_its_bytes(
        tiny_checkpoint, tmp_path, mode):
    from nicegan_plugin.inference.tiled import IMAGE_BYTES_PER_PIXEL
    if not os.access('/proc/self/clear_refs', os.W_OK):
        pytest.skip('/proc/self/clear_refs is not writable here')
    cfg_path, ckpt = tiny_checkpoint
    proc = subprocess.run([sys.executable, __file__, cfg_path, ckpt, mode, str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads(proc.stdout.splitlines()[-1])
    assert f': {mode}' in m['chosen'], m['chosen']
    assert m['covered'] <= m['estimate'] <= m['budget'], m
    beside, pixels = m['total'] - m['covered'], m['h'] * m['w']
    assert beside <= IMAGE_BYTES_PER_PIXEL * pixels, (
        f'{beside / pixels:.1f} bytes per pixel beside the budget')


if __name__ == '__main__':
    print(json.dumps(measure(*sys.argv[1:5])))

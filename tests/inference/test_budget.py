"""What ``--max-memory`` covers, measured: the network's part of a native-size translation
stays within its estimate (so within the budget), and the rest of the process grows by at
most ``IMAGE_BYTES_PER_PIXEL`` per image pixel beside it (decoded image, float32 input,
conversions, encoding), as the option's help and docs/large_images.md say."""
import os

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


@pytest.mark.parametrize('mode', ['tiled', 'whole'])
def test_budget_covers_the_network_and_the_image_adds_at_most_its_bytes(tiny, tmp_path,
                                                                        mode):
    from nicegan_plugin.apis import translate_images
    from nicegan_plugin.inference.tiled import (
        IMAGE_BYTES_PER_PIXEL,
        estimate_tiled_bytes,
        estimate_whole_bytes,
    )
    if not os.access('/proc/self/clear_refs', os.W_OK):
        pytest.skip('/proc/self/clear_refs is not writable here')
    _, _, model = tiny
    enc, gen = model.discriminators['horse'], model.inference_generator('zebra')
    h, w = 2000, 2400  # 4.8 MP: the image's own bytes dwarf allocator noise
    _photo(str(tmp_path / 'big.jpg'), h, w)
    _photo(str(tmp_path / 'warm.jpg'), 200, 240)
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
        report = translate_images(translator, str(tmp_path / name), str(tmp_path / 'out'),
                                  native_size=True, max_memory=budget, progress=False,
                                  log=log.append)
        assert len(report.outputs) == 1, report.summary()
    total, (covered,) = peaks.peak() - base, translator.added
    chosen = next(line for line in log if line.startswith(f'{h}x{w}:'))
    assert f': {mode}' in chosen, chosen
    if mode == 'tiled':
        tile = int(chosen.split('(tile ')[1].split(')')[0])
        estimate = estimate_tiled_bytes(enc, gen, h, w, tile)
    else:
        estimate = whole
    assert covered <= estimate <= budget, (covered, estimate)
    beside = total - covered
    assert beside <= IMAGE_BYTES_PER_PIXEL * h * w, (
        f'{beside / (h * w):.1f} bytes per pixel beside the budget')

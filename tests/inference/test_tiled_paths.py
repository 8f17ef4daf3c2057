"""Tiling through the translation path: tools/translate.py --native-size --tile / --max-memory
and the Python API give the whole-image native-size translation of real photos; an image
that does not fit the budget is skipped with its reason, the others are translated."""
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
from PIL import Image


def _photos(tmp_path, read_photos, sizes):
    """Real cat photos resized to sizes that are not multiples of 4 or of the tile."""
    src = tmp_path / 'in'
    os.makedirs(src)
    images = []
    for i, (im, (h, w)) in enumerate(zip(read_photos('cat', len(sizes)), sizes)):
        images.append(np.asarray(Image.fromarray(im).resize((w, h), Image.BILINEAR)))
        Image.fromarray(images[-1]).save(src / f'cat{i}.png')
    return str(src), images


def _read(folder, name):
    return np.asarray(Image.open(osp.join(folder, name)).convert('RGB')).astype(int)


def test_translate_tool_tiled_equals_whole(tmp_path, tiny_checkpoint, run_tools, read_photos,
                                           photo_dir):
    cfg, ckpt = tiny_checkpoint
    src, _ = _photos(tmp_path, read_photos, [(150, 203), (97, 131)])
    # an unmodified photo (218x178) with a uniform band: flat 32 px tiles
    shutil.copy(osp.join(photo_dir, 'cat', '136.jpg'), osp.join(src, 'band.jpg'))
    runs = {'whole': ['--native-size'], 'tiled': ['--native-size', '--tile', '32'],
            'auto': ['--native-size', '--max-memory', '2G'],
            'small': ['--native-size', '--tile', '4'],
            'notnative': ['--tile', '64']}
    procs = dict(zip(runs, run_tools('tools/translate.py', [
        [cfg, ckpt, '--input', src, '--output', str(tmp_path / k), '--no-progress', *a]
        for k, a in runs.items()])))
    for k in ('whole', 'tiled', 'auto'):
        assert procs[k].returncode == 0, procs[k].stderr[-1500:]
    for name in ('cat0.png', 'cat1.png', 'band.jpg'):
        whole = _read(tmp_path / 'whole', name)
        assert whole.shape[:2] in ((150, 203), (97, 131), (218, 178))
        assert np.abs(_read(tmp_path / 'tiled', name) - whole).max() <= 1
        assert np.array_equal(_read(tmp_path / 'auto', name), whole)
    assert ': whole' in procs['auto'].stderr  # the log says which and why
    assert 'tiled' in procs['tiled'].stderr
    for k, words in (('small', "tile 4 is smaller than the 8 px this network's halos need: "
                               'use a tile of 8 px or more'),
                     ('notnative', '--tile and --max-memory apply to --native-size')):
        assert procs[k].returncode == 2 and words in procs[k].stderr, procs[k].stderr[-800:]
        assert 'Traceback' not in procs[k].stderr


def test_api_picks_tiled_under_a_budget_and_matches_whole(tmp_path, tiny, read_photos):
    from nicegan_plugin.apis import translate_arrays
    from nicegan_plugin.inference.tiled import estimate_whole_bytes
    _, _, model = tiny
    # large enough for the tiny model's whole-image estimate to exceed the tiled one
    _, images = _photos(tmp_path, read_photos, [(998, 1401)])
    whole, heat_whole = translate_arrays(model, images, 'zebra', native_size=True,
                                         heatmaps=True)
    budget = estimate_whole_bytes(model.discriminators['horse'],
                                  model.inference_generator('zebra'), 1000, 1404) - 1
    log = []
    tiled, heat_tiled = translate_arrays(model, images, 'zebra', native_size=True,
                                         heatmaps=True, max_memory=budget, log=log.append)
    assert any(': tiled' in line for line in log), log
    assert np.abs(tiled[0].astype(int) - whole[0]).max() <= 1
    assert np.abs(heat_tiled[0].astype(int) - heat_whole[0]).max() <= 1  # overlay too


def test_translate_tool_skips_an_image_over_the_budget(tmp_path, tiny_checkpoint, run_tools,
                                                       read_photos):
    """--max-memory below what even the smallest tile needs for one image: that image is
    skipped with a one-line reason (the budget that would do), the others translated."""
    cfg, ckpt = tiny_checkpoint
    src, _ = _photos(tmp_path, read_photos, [(64, 80), (1000, 1200)])
    # 100 MiB: the 64x80 image fits whole (~64 MiB), the 1000x1200 one (~165 MiB whole,
    # ~143 MiB tiled with the 8 px tile) does not
    proc, = run_tools('tools/translate.py', [[cfg, ckpt, '--input', src, '--output',
                                              str(tmp_path / 'out'), '--no-progress',
                                              '--native-size', '--max-memory', '100M']])
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert os.listdir(tmp_path / 'out') == ['cat0.png']
    assert 'translated 1 image(s), skipped 1' in proc.stdout
    reason = next(line for line in proc.stdout.splitlines() if 'cat1.png' in line)
    least = re.search(r'over the budget of 100\.0 MiB: raise --max-memory to at least '
                      r'([\d.]+) MiB \(tiles of 8 px, the smallest\)', reason)
    assert least and float(least.group(1)) > 100, reason
    assert 'smaller --tile' not in reason and 'Traceback' not in proc.stderr


def test_too_little_temporary_space_names_both_sizes(tmp_path, tiny, monkeypatch, read_photos):
    """TMPDIR with less free space than the maps need (a 1 MiB tmpfs, emulated by the
    free space the check reads): the message shows both sizes in a unit that tells them
    apart, and a folder translation skips that image and goes on."""
    import collections

    from nicegan_plugin.apis import translate_images
    from nicegan_plugin.inference.tiled import format_bytes, storage, store_bytes
    _, _, model = tiny
    need = store_bytes(model.discriminators['horse'], model.inference_generator('zebra'),
                       200, 240)
    assert need > 1 << 20
    src, _ = _photos(tmp_path, read_photos, [(200, 240), (20, 24)])
    usage = collections.namedtuple('usage', 'total used free')
    monkeypatch.setattr(storage.shutil, 'disk_usage', lambda path: usage(1 << 20, 0, 1 << 20))
    report = translate_images(model, src, str(tmp_path / 'out'), 'a2b', native_size=True,
                              tile=32, progress=False)
    assert [osp.basename(p) for p in report.outputs] == ['cat1.png']
    (path, reason), = report.failed
    assert osp.basename(path) == 'cat0.png'
    assert f'needs {format_bytes(need)} of temporary files' in reason, reason
    assert 'only 1.0 MiB are free' in reason and format_bytes(need) != '1.0 MiB'


def test_translators_answer_the_tiling_questions(tiny, build_tiny_model):
    """The translation path asks the translator (not its networks) whether and how it
    tiles: a light model in PyTorch tiles and validates the tile with one advice; a full
    (light=False) model cannot tile and says so before any image is read."""
    from nicegan_plugin.inference import TorchTranslator
    _, _, model = tiny
    light = TorchTranslator(model, 'a2b')
    assert light.supports_tiling
    light.check_tile(8)
    with pytest.raises(ValueError, match="tile 4 is smaller than the 8 px this network's "
                                         'halos need: use a tile of 8 px or more'):
        light.check_tile(4)
    mode, tile, _ = light.choose_mode(1000, 1200, 150 << 20)
    assert mode == 'tiled' and tile >= 8
    full = TorchTranslator(build_tiny_model('horse', 'zebra', light=False).eval(), 'a2b')
    assert not full.supports_tiling
    for call in (lambda: full.check_tile(), lambda: full.check_tile(64),
                 lambda: full.choose_mode(64, 64, 1 << 30),
                 lambda: full.forward_tiled(np.zeros((1, 3, 64, 64), np.float32), 64)):
        with pytest.raises(ValueError, match='cannot translate tile by tile'):
            call()

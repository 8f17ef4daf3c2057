"""Tiling through the translation path: tools/translate.py --native-size --tile / --max-memory
and the Python API give the whole-image native-size translation of real photos."""
import os
import os.path as osp
import shutil

import numpy as np
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
    for k, words in (('small', "--tile 4 is smaller than this network's halo"),
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

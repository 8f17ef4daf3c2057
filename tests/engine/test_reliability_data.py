"""Data checked at start-up: unreadable images listed (stop, or skip them), folder
problems in one line, results cached per folder state, a file that breaks later named;
the tiny test config trains on trainA/trainB."""
import json
import os
import os.path as osp
import shutil

import pytest
from mmengine.config import Config
from reliability_helpers import data_check_cache, photo_set  # noqa: F401

from conftest import TINY_CONFIG


@pytest.fixture(scope='module')
def clean(tmp_path_factory):
    return photo_set(str(tmp_path_factory.mktemp('photos')))


def _dataset(root, **extra):
    from mmagic.registry import DATASETS
    cfg = Config.fromfile(TINY_CONFIG).train_dataloader.dataset
    cfg.update(data_root=None if root is None else str(root), **extra)
    return DATASETS.build(cfg)


def _corrupt(clean, tmp_path):
    """A copy of the photos with a truncated JPEG (the issue's ``head -c 3000``) and a
    text file named .png in trainA."""
    root = tmp_path / 'data'
    shutil.copytree(clean, root)
    photo = sorted((root / 'trainA').iterdir())[0]
    (root / 'trainA' / 'zzz.jpg').write_bytes(photo.read_bytes()[:3000])
    (root / 'trainA' / 'notes.png').write_text('not an image')
    return root


def test_unreadable_images_stop_the_run_listed_or_are_skipped(clean, tmp_path):
    from nicegan_plugin.datasets.data_check import DataCheckError
    root = _corrupt(clean, tmp_path)
    with pytest.raises(DataCheckError) as info:
        _dataset(root)
    msg = str(info.value)
    assert '\n' not in msg and msg.startswith(f'2 unreadable image(s) in {root}/trainA')
    assert f'{root}/trainA/zzz.jpg (OSError: image file is truncated' in msg
    assert f'{root}/trainA/notes.png (not an image)' in msg
    assert 'train_dataloader.dataset.unreadable=skip' in msg
    ds = _dataset(root, unreadable='skip')
    assert sorted(osp.basename(d['path']) for d in ds.data_infos_a) == \
        sorted(os.listdir(osp.join(clean, 'trainA')))
    assert ds[0]['inputs']['img_horse'].shape == (3, 64, 64)


def test_folder_problems_are_one_line_each(clean, tmp_path):
    from nicegan_plugin.datasets.data_check import DataCheckError
    empty, missing = tmp_path / 'empty', tmp_path / 'missing'
    for root in (empty, missing):
        shutil.copytree(clean, root)
    for f in (empty / 'trainA').iterdir():
        f.unlink()
    shutil.rmtree(missing / 'trainA')
    a_file = sorted((empty / 'trainB').iterdir())[0]
    cases = [(empty, f'{empty}/trainA has no image files'),
             (missing, f'{missing}/trainA not found: data_root must hold trainA, trainB, '
                       'testA, testB (it holds: testA, testB, trainB)'),
             (a_file, f'data_root {a_file} is a file'),
             (tmp_path / 'nowhere', f'data_root {tmp_path / "nowhere"} not found'),
             (None, 'train_dataloader.dataset.data_root is not set')]
    for root, expected in cases:
        with pytest.raises(DataCheckError) as info:
            _dataset(root)
        assert str(info.value).startswith(expected) and '\n' not in str(info.value), \
            (root, str(info.value))


def test_check_is_cached_per_folder_state(clean, tmp_path):
    """The cached result is used while the folder is unchanged (shown by planting a
    verdict in it) and recomputed once a file changes."""
    from nicegan_plugin.datasets.data_check import DataCheckError, check_folder
    root = tmp_path / 'data'
    shutil.copytree(clean, root)
    _dataset(root)
    cache = os.environ['NICEGAN_DATA_CHECK_CACHE']  # the helpers' per-test cache
    records = {json.load(open(p))['folder']: p
               for p in (osp.join(cache, n) for n in os.listdir(cache))}
    assert sorted(records) == [str(root / 'trainA'), str(root / 'trainB')]
    path = records[str(root / 'trainA')]
    record = json.load(open(path))
    victim = sorted(str(p) for p in (root / 'trainA').iterdir())[0]
    record['unreadable'] = {victim: 'planted'}
    json.dump(record, open(path, 'w'))
    with pytest.raises(DataCheckError, match=f'{victim} \\(planted\\)'):
        _dataset(root)
    os.utime(victim, ns=(0, 0))  # the folder state changes: checked again, and good
    _dataset(root)
    files = sorted(str(p) for p in (root / 'trainA').iterdir())
    assert check_folder(str(root / 'trainA'), files) == {}


def test_large_folders_show_a_progress_bar(clean, capfd, monkeypatch):
    from nicegan_plugin.datasets import data_check
    files = sorted(osp.join(clean, 'trainA', n) for n in os.listdir(osp.join(clean, 'trainA')))
    monkeypatch.setattr(data_check, 'PROGRESS_MIN', len(files))
    assert data_check.check_folder(osp.join(clean, 'trainA'), files) == {}
    out = capfd.readouterr().out
    assert f'{len(files)}/{len(files)}' in out, out


def test_a_file_that_breaks_during_training_is_named(clean, tmp_path):
    from nicegan_plugin.datasets.dataset import ImageDecodeError
    root = tmp_path / 'data'
    shutil.copytree(clean, root)
    ds = _dataset(root)
    first = ds.data_infos_a[0]['path']
    with open(first, 'wb') as f:  # replaced after the start-up check
        f.write(b'\xff\xd8garbage')
    with pytest.raises(ImageDecodeError, match=f'cannot decode image {first}'):
        ds[0]
    ds.unreadable = 'skip'
    ds.test_mode = False
    assert ds[0]['inputs']['img_horse'].shape == (3, 64, 64)  # another sample instead


def test_tiny_config_trains_on_the_training_folders(clean):
    ds = _dataset(clean)
    assert not ds.test_mode
    assert all('/trainA/' in d['path'] for d in ds.data_infos_a)
    assert all('/trainB/' in d['path'] for d in ds.data_infos_b)
    pairs = [(ds.get_data_info(i)['img_A_path'], ds.get_data_info(i)['img_B_path'])
             for i in range(len(ds))]
    assert pairs == [(ds.data_infos_a[i % ds.len_a]['path'],
                      ds.data_infos_b[i % ds.len_b]['path'])
                     for i in range(len(ds))]  # paired by index: runs compare exactly


def test_training_reads_every_image_extension_the_tools_read(clean, tmp_path):
    """MMagic's own dataset lists the same files in the same order, minus what its
    extension list lacks (.webp, .pgm, mixed case): the plugin's dataset reads those too
    (``tools/translate.py`` can write them)."""
    import cv2
    from mmagic.datasets import UnpairedImageDataset
    root = tmp_path / 'data'
    shutil.copytree(clean, root)
    first = sorted((root / 'trainA').iterdir())[0]
    img = cv2.imread(str(first))
    cv2.imwrite(str(root / 'trainA' / 'extra.webp'), img)
    cv2.imwrite(str(root / 'trainA' / 'extra.pgm'), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    shutil.copy(first, root / 'trainA' / 'Mixed.Jpg')
    ours = [d['path'] for d in _dataset(root).data_infos_a]
    theirs = [d['path'] for d in UnpairedImageDataset(
        str(root), pipeline=[], domain_a='horse', domain_b='zebra').data_infos_a]
    extra = {str(root / 'trainA' / n) for n in ('extra.webp', 'extra.pgm', 'Mixed.Jpg')}
    assert [p for p in ours if p not in extra] == theirs
    assert set(ours) - set(theirs) == extra

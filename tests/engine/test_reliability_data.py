"""Data checked at start-up: unreadable images listed (stop, or skip them), folder
problems in one line, results cached per folder state, a file that breaks later named;
the tiny test config trains on trainA/trainB."""
import json
import os
import os.path as osp
import shutil
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.hooks import Hook

pytestmark = pytest.mark.usefixtures('data_check_cache')


@pytest.fixture(scope='module')
def clean(tmp_path_factory, make_photo_set):
    return make_photo_set(str(tmp_path_factory.mktemp('photos')))


@pytest.fixture(scope='module')
def dataset(tiny_config):
    """``dataset(root, **extra)``: the tiny config's training dataset on ``root``."""
    def build(root, **extra):
        from mmagic.registry import DATASETS

        from nicegan_plugin.engine import derive_keys
        cfg = derive_keys(Config.fromfile(tiny_config)).train_dataloader.dataset
        cfg.update(data_root=None if root is None else str(root), **extra)
        return DATASETS.build(cfg)
    return build


def _corrupt(clean, tmp_path):
    """A copy of the photos with a truncated JPEG (the issue's ``head -c 3000``) and a
    text file named .png in trainA."""
    root = tmp_path / 'data'
    shutil.copytree(clean, root)
    photo = sorted((root / 'trainA').iterdir())[0]
    (root / 'trainA' / 'zzz.jpg').write_bytes(photo.read_bytes()[:3000])
    (root / 'trainA' / 'notes.png').write_text('not an image')
    return root


def test_unreadable_images_stop_the_run_listed_or_are_skipped(dataset, clean, tmp_path):
    from nicegan_plugin.datasets.data_check import DataCheckError
    root = _corrupt(clean, tmp_path)
    with pytest.raises(DataCheckError) as info:
        dataset(root)
    msg = str(info.value)
    assert '\n' not in msg and msg.startswith(f'2 unreadable image(s) in {root}/trainA')
    assert f'{root}/trainA/zzz.jpg (OSError: image file is truncated' in msg
    assert f'{root}/trainA/notes.png (not an image)' in msg
    assert 'train_dataloader.dataset.unreadable=skip' in msg
    ds = dataset(root, unreadable='skip')
    assert sorted(osp.basename(d['path']) for d in ds.data_infos_a) == \
        sorted(os.listdir(osp.join(clean, 'trainA')))
    assert ds[0]['inputs']['img_horse'].shape == (3, 64, 64)


def test_folder_problems_are_one_line_each(dataset, clean, tmp_path):
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
            dataset(root)
        assert str(info.value).startswith(expected) and '\n' not in str(info.value), \
            (root, str(info.value))


def test_check_is_cached_per_folder_state(dataset, clean, tmp_path):
    """The cached result is used while the folder is unchanged (shown by planting a
    verdict in it) and recomputed once a file changes."""
    from nicegan_plugin.datasets.data_check import DataCheckError, check_folder
    root = tmp_path / 'data'
    shutil.copytree(clean, root)
    dataset(root)
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
        dataset(root)
    os.utime(victim, ns=(0, 0))  # the folder state changes: checked again, and good
    dataset(root)
    files = sorted(str(p) for p in (root / 'trainA').iterdir())
    assert check_folder(str(root / 'trainA'), files) == {}


def test_large_folders_show_a_progress_bar(clean, capfd, monkeypatch):
    from nicegan_plugin.datasets import data_check
    files = sorted(osp.join(clean, 'trainA', n) for n in os.listdir(osp.join(clean, 'trainA')))
    monkeypatch.setattr(data_check, 'PROGRESS_MIN', len(files))
    assert data_check.check_folder(osp.join(clean, 'trainA'), files) == {}
    out = capfd.readouterr().out
    assert f'{len(files)}/{len(files)}' in out, out


def test_a_file_that_breaks_during_training_is_named(dataset, clean, tmp_path):
    from nicegan_plugin.datasets.dataset import ImageDecodeError
    root = tmp_path / 'data'
    shutil.copytree(clean, root)
    ds = dataset(root)
    first = ds.data_infos_a[0]['path']
    with open(first, 'wb') as f:  # replaced after the start-up check
        f.write(b'\xff\xd8garbage')
    with pytest.raises(ImageDecodeError, match=f'cannot decode image {first}'):
        ds[0]
    ds.unreadable = 'skip'
    ds.test_mode = False
    assert ds[0]['inputs']['img_horse'].shape == (3, 64, 64)  # another sample instead


def test_tiny_config_trains_on_the_training_folders(dataset, clean):
    ds = dataset(clean)
    assert not ds.test_mode
    assert all('/trainA/' in d['path'] for d in ds.data_infos_a)
    assert all('/trainB/' in d['path'] for d in ds.data_infos_b)
    pairs = [(ds.get_data_info(i)['img_A_path'], ds.get_data_info(i)['img_B_path'])
             for i in range(len(ds))]
    assert pairs == [(ds.data_infos_a[i % ds.len_a]['path'],
                      ds.data_infos_b[i % ds.len_b]['path'])
                     for i in range(len(ds))]  # paired by index: runs compare exactly


def test_training_reads_every_image_extension_the_tools_read(dataset, clean, tmp_path):
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
    ours = [d['path'] for d in dataset(root).data_infos_a]
    theirs = [d['path'] for d in UnpairedImageDataset(
        str(root), pipeline=[], domain_a='horse', domain_b='zebra').data_infos_a]
    extra = {str(root / 'trainA' / n) for n in ('extra.webp', 'extra.pgm', 'Mixed.Jpg')}
    assert [p for p in ours if p not in extra] == theirs
    assert set(ours) - set(theirs) == extra


def _broken_variants(photo, folder):
    """A real JPEG photo and ways it breaks (truncated by a copy in progress, damaged,
    not an image), and the same as PNG; ``{name: path}``."""
    import cv2
    data = photo.read_bytes()
    png = cv2.imencode('.png', cv2.imread(str(photo)))[1].tobytes()
    middle = len(data) // 2
    variants = {
        'photo.jpg': data, 'half.jpg': data[:middle], 'most.jpg': data[:len(data) * 9 // 10],
        'no_end_marker.jpg': data[:-2], 'zeroed_middle.jpg':
            data[:middle] + bytes(200) + data[middle + 200:],
        'empty.jpg': b'', 'text.jpg': b'not an image', 'photo.png': png,
        'half.png': png[:len(png) // 2]}
    os.makedirs(folder, exist_ok=True)
    for name, content in variants.items():
        with open(osp.join(folder, name), 'wb') as f:
            f.write(content)
    return {name: osp.join(folder, name) for name in variants}


def test_the_check_accepts_exactly_what_the_loader_reads(clean, tmp_path):
    """For each decoder a config can give MMagic's LoadImageFromFile (OpenCV, the default,
    and PIL), the start-up check's verdict on broken files is the loader's own; cv2.imread
    (the check of earlier releases) accepts a truncated JPEG that the loader cannot read."""
    import cv2
    from mmagic.registry import TRANSFORMS

    from nicegan_plugin.datasets.data_check import image_error
    photo = sorted(Path(clean, 'trainA').iterdir())[0]
    files = _broken_variants(photo, str(tmp_path / 'variants'))
    verdicts = {}
    for flag, backend in (('color', None), ('color', 'pillow'), ('grayscale', None)):
        load = TRANSFORMS.build(dict(type='LoadImageFromFile', key='img', color_type=flag,
                                     imdecode_backend=backend))
        for name, path in files.items():
            try:
                reads = load({'img_path': path})['img'].size > 0
            except Exception:  # noqa: BLE001 (what the loader does with the file)
                reads = False
            accepted = image_error(path, [(flag, backend)]) is None
            assert accepted == reads, (flag, backend, name, image_error(path, [(flag, backend)]))
            verdicts[(flag, backend, name)] = reads
    assert verdicts[('color', None, 'photo.jpg')] and verdicts[('color', None, 'photo.png')]
    assert not verdicts[('color', None, 'half.jpg')] and not verdicts[('color', None, 'empty.jpg')]
    assert cv2.imread(files['half.jpg']) is not None  # the old check's decoder disagrees
    assert image_error(files['half.jpg']).startswith('OSError: image file is truncated')


class TruncateAfter(Hook):
    """Fault: after iteration ``step`` (and its checkpoint), ``path`` is cut to half, as a
    sync tool still copying it would leave it."""
    priority = 'LOWEST'  # after the checkpoint hook

    def __init__(self, step, path):
        self.step, self.path = step, path

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.step:
            with open(self.path, 'rb') as f:
                data = f.read()
            with open(self.path, 'wb') as f:
                f.write(data[:len(data) // 2])


def test_a_file_truncated_mid_run_stops_the_run_named_or_is_skipped(clean, tmp_path,
                                                                    make_tiny_runner):
    """A real photo truncated after iteration 2: the run stops before iteration 3 naming
    the file, with its complete iteration-2 checkpoint the last; with unreadable='skip'
    the file is named once and training goes on with other samples."""
    from nicegan_plugin.datasets.dataset import ImageDecodeError
    from nicegan_plugin.engine.checkpointing.reading import read_state_dict
    options = {'train_cfg.max_iters': 3, 'default_hooks.checkpoint.interval': 2}
    for mode in ('stop', 'skip'):
        root, work = tmp_path / f'data_{mode}', tmp_path / f'work_{mode}'
        shutil.copytree(clean, root)
        victim = str(sorted((root / 'trainA').iterdir())[2])  # read at iteration 3
        runner = make_tiny_runner(work, root, **options,
                                  **{'train_dataloader.dataset.unreadable': mode})
        runner.register_hook(TruncateAfter(2, victim))
        if mode == 'stop':
            with pytest.raises(ImageDecodeError) as info:
                runner.train()
            msg = str(info.value)
            assert msg.startswith(f'cannot decode image {victim} (OSError: image file is '
                                  'truncated'), msg
            assert 'it was readable at start-up' in msg and 'unreadable=skip' in msg
            assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_2.pth']  # no save_last
            assert (work / 'last_checkpoint').read_text() == 'iter_2.pth'
            assert read_state_dict(str(work / 'iter_2.pth'))  # complete and finite
        else:
            runner.train()
            assert runner.iter == 3 and (work / 'iter_3.pth').is_file()  # save_last
            log = (osp.join(runner.log_dir, f'{runner.timestamp}.log'))
            assert open(log).read().count(f'cannot decode {victim} (OSError: image file is '
                                          'truncated') == 1

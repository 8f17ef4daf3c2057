"""FID/KID that expect more test images than the test folders hold stop at test start, before
Inception loads, with one line naming the folder and the config value to change (MMagic
itself fails after the whole test: 'Length of results is 1, not equals to target size 3')."""
import os
import subprocess
import sys

import pytest
import torch


@pytest.fixture
def garbage_weights(tmp_path) -> str:
    """An Inception weight file that exists but does not load: any Inception load fails."""
    path = tmp_path / 'inception.pth'
    path.write_bytes(b'not a weight file')
    return str(path)


def test_check_test_counts_names_the_folder_and_setting(tmp_path, make_image_set,
                                                        build_tiny_model):
    from mmagic.datasets import UnpairedImageDataset

    from nicegan_plugin.evaluation.metrics import TestSetSizeError, check_test_counts
    root = make_image_set(str(tmp_path), n_a=1, n_b=2)
    dataset = UnpairedImageDataset(root, pipeline=[], test_mode=True)
    model = build_tiny_model('horse', 'zebra')
    check_test_counts(model, dataset, 'fake_zebra', 1, 2, 'p')  # exactly the folders
    check_test_counts(model, dataset, 'fake_horse', 1, 1, 'p')  # fewer: a subset, allowed
    with pytest.raises(TestSetSizeError) as err:
        check_test_counts(model, dataset, 'fake_zebra', 3, 4, 'FID-horse-to-zebra')
    assert str(err.value) == (
        f'FID-horse-to-zebra: the test set is smaller than the metric expects: fake_nums=3 '
        f'horse images, but {root}/testA holds 1: set num_test_a=1 (or -1 to count the '
        f'folder); real_nums=4 zebra images, but {root}/testB holds 2: set num_test_b=2 (or '
        '-1 to count the folder) (a config without num_test_a/num_test_b: this metric\'s '
        'fake_nums/real_nums)')
    with pytest.raises(TestSetSizeError, match=r'^KID: .*: fake_nums=3 zebra images, but '
                       r'.*testB holds 2: set num_test_b=2 .*'):
        check_test_counts(model, dataset, 'fake_horse', 3, 1, 'KID')
    with pytest.raises(TestSetSizeError, match=r'fake_nums=5, real_nums=-1, but the test set '
                       r'holds 2 items'):  # not an unpaired set: its length bounds both
        check_test_counts(model, dataset, None, 5, -1, 'X')


def test_metric_checks_before_inception_loads(tmp_path, make_image_set, build_tiny_model,
                                              garbage_weights):
    from mmagic.datasets import UnpairedImageDataset
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader

    from nicegan_plugin.evaluation import InceptionWeightsError, NICEGANTransKID
    from nicegan_plugin.evaluation.metrics import TestSetSizeError
    root = make_image_set(str(tmp_path), n_a=1, n_b=2)
    loader = DataLoader(UnpairedImageDataset(root, pipeline=[], test_mode=True),
                        collate_fn=pseudo_collate)
    model = build_tiny_model('horse', 'zebra')
    kw = dict(real_key='img_zebra', fake_key='fake_zebra', inception_path=garbage_weights)
    metric = NICEGANTransKID(fake_nums=3, real_nums=2, **kw)
    with pytest.raises(TestSetSizeError, match='fake_nums=3 horse images'):
        metric.prepare(model, loader)
    assert metric.inception is None  # never loaded
    with pytest.raises(InceptionWeightsError):  # sizes right: now it loads (and fails)
        NICEGANTransKID(fake_nums=1, real_nums=2, **kw).prepare(model, loader)


def test_tools_test_stops_at_start_naming_the_setting(tmp_path, project_root,
                                                      tiny_config_file, make_image_set,
                                                      data_root_args, garbage_weights):
    """tools/test.py with the 3 + 4 image metrics on 1 + 2 test images: one line, exit 1,
    before Inception loads (the weight file given would fail to load) and before any
    translation is written."""
    from mmagic.registry import MODELS

    from nicegan_plugin.engine.launch.runner_setup import load_config
    cfg_path = tiny_config_file('tiny_h2z_metrics')
    data = make_image_set(str(tmp_path / 'data'), n_a=1, n_b=2, size=64)
    torch.manual_seed(0)
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': MODELS.build(load_config(cfg_path, 'none', None, None).model)
                .state_dict(), 'meta': {}}, ckpt)
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', cfg_path, str(ckpt), '--work-dir',
         str(tmp_path / 'work'), '--cfg-options', *data_root_args(data)],
        cwd=project_root, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, NICEGAN_INCEPTION=garbage_weights, OMP_NUM_THREADS='1'))
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f'error: FID-horse-to-zebra: the test set is smaller than the metric expects: '
        f'fake_nums=3 horse images, but {data}/testA holds 1: set num_test_a=1 (or -1 to '
        f'count the folder); real_nums=4 zebra images, but {data}/testB holds 2: set '
        'num_test_b=2 (or -1 to count the folder)'), last
    assert 'Length of results' not in proc.stderr and 'Inception' not in last
    assert not (tmp_path / 'work' / 'translations').exists()

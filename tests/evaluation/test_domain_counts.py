"""fake_nums=-1: the metrics count the unpaired test set's images per domain at run time
(photo2portrait's config uses it instead of walking the file system at parse time)."""
import pytest
import torch
from mmengine.config import Config


def test_domain_test_counts_follow_the_folders(tmp_path, make_image_set, build_tiny_model):
    from mmagic.datasets import UnpairedImageDataset

    from nicegan_plugin.evaluation.metrics import domain_test_counts
    root = make_image_set(str(tmp_path), n_a=3, n_b=5)
    dataset = UnpairedImageDataset(root, pipeline=[], test_mode=True)
    model = build_tiny_model('photo', 'portrait')
    assert domain_test_counts(model, dataset, 'fake_portrait', 'p') == (3, 5)
    assert domain_test_counts(model, dataset, 'fake_photo', 'p') == (5, 3)
    with pytest.raises(ValueError, match='fake_nums=-1 needs'):
        domain_test_counts(model, torch.utils.data.TensorDataset(torch.zeros(1)), 'fake_photo',
                           'p')


def test_photo2portrait_config_has_no_parse_time_side_effects(project_root):
    path = f'{project_root}/configs/nicegan/nicegan_light_1xb1-100kiters_photo2portrait.py'
    assert 'os.walk' not in open(path).read()
    from nicegan_plugin.engine import derive_keys
    metrics = derive_keys(Config.fromfile(path)).test_evaluator.metrics
    assert metrics and all(m.fake_nums == -1 and m.real_nums == -1 for m in metrics)

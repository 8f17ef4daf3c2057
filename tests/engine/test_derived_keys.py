"""``derive_keys``: the keys a config's data set decides, worked out when it is built; the
runner that applies it; MMagic's own tools/train.py on the config a run writes."""
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from nicegan_plugin.engine import NICEGANRunner, derive_keys
from nicegan_plugin.engine.config.check import ConfigCheckError

#: the paper recipe in the package (a config on it states its data set)
RECIPE = ('nicegan_plugin', 'configs', 'nicegan_light_1xb1_100kiters.py')


def own_config(tmp_path, body: str) -> Config:
    """A user's config (in ``tmp_path``, outside the project) on the paper recipe."""
    path = tmp_path / 'mine.py'
    path.write_text('from mmengine.config import read_base\n\nwith read_base():\n'
                    '    from nicegan_plugin.configs.nicegan_light_1xb1_100kiters import *\n\n'
                    + body)
    return Config.fromfile(str(path))


def test_the_keys_follow_from_the_values(tmp_path):
    cfg = derive_keys(own_config(tmp_path, "domain_a, domain_b = 'cat', 'dog'\n"
                                           "data_root = 'data/c2d'\nnum_test_a = 7\n"))
    assert (cfg.model.default_domain, cfg.model.reachable_domains,
            cfg.model.related_domains) == ('dog', ['cat', 'dog'], ['cat', 'dog'])
    assert cfg.model.data_preprocessor.data_keys == ['img_cat', 'img_dog']
    assert cfg.model.generator.img_size == 256
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.data_root == 'data/c2d'
        mapper, pack = cfg[loader].dataset.pipeline[-2:]
        assert mapper.mapping == {'img_cat': 'img_A', 'img_dog': 'img_B'}
        assert pack.type == 'PackInputs' and pack['keys'] == ['img_cat', 'img_dog']
    steps = [(t.type, t.get('scale'), t.get('crop_size'))
             for t in cfg.train_dataloader.dataset.pipeline]
    assert ('Resize', (286, 286), None) in steps and ('Crop', None, (256, 256)) in steps
    assert [(t.type, t.get('scale')) for t in cfg.test_dataloader.dataset.pipeline][2] == (
        'Resize', (256, 256))
    assert cfg.test_pipeline == cfg.test_dataloader.dataset.pipeline
    metrics = cfg.val_evaluator.metrics
    assert [(m.type, m.prefix, m.fake_nums, m.real_nums, m.real_key, m.fake_key)
            for m in metrics] == [
        ('NICEGANTransFID', 'FID-cat-to-dog', 7, -1, 'img_dog', 'fake_dog'),
        ('NICEGANTransKID', 'KID-cat-to-dog', 7, -1, 'img_dog', 'fake_dog'),
        ('NICEGANTransFID', 'FID-dog-to-cat', -1, 7, 'img_cat', 'fake_cat'),
        ('NICEGANTransKID', 'KID-dog-to-cat', -1, 7, 'img_cat', 'fake_cat')]
    assert cfg.test_evaluator.metrics == metrics
    assert cfg.default_hooks.checkpoint.save_best == ['FID-cat-to-dog/fid', 'FID-dog-to-cat/fid']
    assert cfg.default_hooks.checkpoint.rule == 'less'


def test_stated_keys_win_and_the_result_is_stable(tmp_path):
    cfg = own_config(tmp_path, "domain_a, domain_b = 'cat', 'dog'\ndata_root = 'data/c2d'\n"
                               'img_size = 128\n')
    cfg.merge_from_dict({'val_evaluator.metrics': [], 'default_hooks.checkpoint.save_best': None,
                         'train_dataloader.dataset.data_root': 'elsewhere',
                         'test_evaluator.metrics.2.fake_nums': 5,
                         'model.generator.img_size': 256})
    cfg = derive_keys(cfg)
    assert cfg.val_evaluator.metrics == [] and cfg.default_hooks.checkpoint.save_best is None
    assert cfg.train_dataloader.dataset.data_root == 'elsewhere'
    assert cfg.val_dataloader.dataset.data_root == 'data/c2d'
    assert [m.fake_nums for m in cfg.test_evaluator.metrics] == [-1, -1, 5, -1]
    assert cfg.test_evaluator.metrics[2].prefix == 'FID-dog-to-cat'
    assert cfg.model.generator.img_size == 256  # stated, although img_size is 128
    assert cfg.test_pipeline[2].scale == (128, 128)
    assert [t.scale for t in cfg.train_pipeline if t.type == 'Resize'] == [(158, 158)]
    again = derive_keys(Config(cfg.to_dict()))
    assert again.to_dict() == cfg.to_dict()


def test_a_pipeline_without_packing_gets_the_domain_steps(tmp_path):
    cfg = own_config(tmp_path, "domain_a, domain_b = 'cat', 'dog'\n"
                               "train_dataloader.dataset.pipeline = [\n"
                               "    dict(type='LoadImageFromFile', key='img_A'),\n"
                               "    dict(type='LoadImageFromFile', key='img_B')]\n")
    cfg = derive_keys(cfg)
    assert [t.type for t in cfg.train_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'LoadImageFromFile', 'KeyMapper', 'PackInputs']
    packed = list(cfg.test_dataloader.dataset.pipeline)
    assert derive_keys(cfg).test_dataloader.dataset.pipeline == packed  # not appended twice


@pytest.mark.parametrize('body, message', [
    ("data_root = 'x'\n", 'domain_a and domain_b are not set'),
    ("domain_a, domain_b = 'cat', 'cat'\n", 'two different names'),
    ("domain_a, domain_b = 'cat', 'dog'\nnum_test_b = 0\n", 'num_test_b must be'),
    ("domain_a, domain_b = 'cat', 'dog'\nload_size = 200\n", 'load_size'),
])
def test_values_that_cannot_be_right_are_named(tmp_path, body, message):
    with pytest.raises(ConfigCheckError, match=message) as err:
        derive_keys(own_config(tmp_path, body))
    assert str(tmp_path / 'mine.py') in str(err.value) and '\n' not in str(err.value)


def test_a_config_without_domain_values_is_left_alone():
    cfg = Config(dict(model=dict(type='CycleGAN', default_domain='b'), val_evaluator=dict()))
    assert derive_keys(cfg).to_dict() == dict(model=dict(type='CycleGAN', default_domain='b'),
                                              val_evaluator=dict())


def test_the_recipe_alone_asks_for_its_data_set(project_root):
    with pytest.raises(ConfigCheckError, match='domain_a and domain_b are not set'):
        NICEGANRunner.from_cfg(Config.fromfile(osp.join(project_root, *RECIPE)))


def test_mmagic_train_trains_the_config_a_run_writes(tmp_path, tiny_config, make_image_set,
                                                     data_root_args, data_check_cache):
    """MMagic's own tools/train.py builds a plain Runner (no runner_type, no read_base()
    imports of plugins): the config a run leaves in its work dir holds every derived key and
    ``custom_imports``, so it trains there as it is."""
    import mmagic
    train = osp.join(osp.dirname(mmagic.__file__), '.mim', 'tools', 'train.py')
    if not osp.isfile(train):
        pytest.skip(f'this MMagic installation has no {train}')
    written = tmp_path / 'tiny_h2z.py'
    derive_keys(Config.fromfile(tiny_config)).dump(str(written))  # what NICEGANRunner writes
    data = make_image_set(str(tmp_path / 'data'), n_a=2, n_b=2, size=72)
    proc = subprocess.run(
        [sys.executable, train, str(written), '--work-dir', str(tmp_path / 'work'),
         '--cfg-options', 'train_cfg.max_iters=1', 'default_hooks.checkpoint.interval=1',
         *data_root_args(data)], cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / 'work' / 'iter_1.pth').is_file()

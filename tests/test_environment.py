"""The stack the plugin runs on is the real one, and the plugin is registered in it."""
import importlib

import pytest


@pytest.mark.parametrize('module', ['torch', 'torchvision', 'mmcv', 'mmcv.ops', 'mmengine',
                                    'mmagic', 'mmagic.models', 'mmagic.evaluation',
                                    'mmagic.apis', 'mmagic.datasets.transforms',
                                    'nicegan_plugin'])
def test_imports(module):
    importlib.import_module(module)


def test_versions():
    import mmagic
    import mmcv
    import mmengine
    import numpy
    import torch
    assert mmagic.__version__ == '1.2.0'
    assert mmcv.__version__ == '2.1.0'
    assert mmengine.__version__ == '0.10.7'
    assert numpy.__version__.startswith('1.'), 'numpy 2 breaks mmagic 1.2.0 (np.bool8)'
    assert '+cpu' not in torch.__version__, 'torchvision needs the PyPI (CUDA-built) torch'


def test_mmcv_compiled_op_runs():
    import torch
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    _, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]


@pytest.mark.parametrize('registry,name', [
    ('MODELS', 'NICEGAN'), ('MODELS', 'NICEGANGenerator'), ('MODELS', 'NICEGANDiscriminator'),
    ('MODELS', 'NICEGANAdversarialLoss'), ('PARAM_SCHEDULERS', 'NICEGANLinearDecayLR'),
    ('MODEL_WRAPPERS', 'NICEGANDistributedWrapper'),
    ('HOOKS', 'NICEGANSaveTranslationsHook'),
])
def test_plugin_classes_in_mmagic_registries(registry, name):
    import mmagic.registry as reg
    r = getattr(reg, registry)
    assert r.scope == 'mmagic'
    assert r.get(name) is not None, f'{name} not found in mmagic.registry.{registry}'


def test_custom_imports_config_builds_model(tmp_path):
    """A config with custom_imports builds the model through MMagic's MODELS."""
    from mmagic.registry import MODELS
    from mmengine.config import Config
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        "default_scope = 'mmagic'\n"
        "custom_imports = dict(imports=['nicegan_plugin'], allow_failed_imports=False)\n"
        "model = dict(type='NICEGAN', data_preprocessor=dict(type='DataPreprocessor'),\n"
        "    generator=dict(type='NICEGANGenerator', base_channels=8, num_blocks=1),\n"
        "    discriminator=dict(type='NICEGANDiscriminator', base_channels=8, num_layers=6),\n"
        "    default_domain='b', reachable_domains=['a', 'b'], related_domains=['a', 'b'])\n")
    cfg = Config.fromfile(str(cfg_file))
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'NICEGAN'
    assert set(model.generators) == {'a', 'b'}

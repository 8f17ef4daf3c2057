"""One real runner iteration, through MMagic's data pipeline and preprocessor in float32,
reproduces the official step-1 losses (the fixture's input pixels written as lossless PNGs)."""
import json
import os
import os.path as osp

import pytest
import torch


def test_runner_iteration_matches_official_step1(tmp_path, project_root, fixture_dir):
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from nicegan_plugin.official.converter import official_to_plugin
    from nicegan_plugin.official.parity import official_loss_names
    from nicegan_plugin.utils import save_rgb

    fx = fixture_dir('light_ch3_64px')
    meta = json.load(open(osp.join(fx, 'meta.json')))
    batch = meta['batch_size']
    assert batch > 1  # the loader's batching is part of what is checked
    inputs = torch.load(osp.join(fx, 'inputs.pt'), weights_only=True)  # RGB uint8
    data = tmp_path / 'data'
    for dom, names in (('A', meta['images_A']), ('B', meta['images_B'])):
        os.makedirs(data / f'train{dom}')
        os.makedirs(data / f'test{dom}')
        # step 1 = the first batch; the names keep their order when the loader sorts them
        for i, name in enumerate(names[:batch]):
            pixels = inputs[f'real_{dom}'][0][i].permute(1, 2, 0).contiguous().numpy()
            png = osp.splitext(name)[0] + '.png'
            for split in ('train', 'test'):
                save_rgb(str(data / f'{split}{dom}' / png), pixels)
    plugin_ckpt, model_cfg = official_to_plugin(
        torch.load(osp.join(fx, 'official_params_init.pt'), weights_only=True))
    torch.save(plugin_ckpt, tmp_path / 'init.pth')

    cfg = Config.fromfile(osp.join(project_root, 'configs', 'nicegan_c2d.py'))
    pipeline = [dict(type='LoadImageFromFile', key='img_A', color_type='color'),
                dict(type='LoadImageFromFile', key='img_B', color_type='color'),
                dict(type='PackInputs', keys=['img_A', 'img_B'], data_keys=['img_A', 'img_B'])]
    cfg.model = model_cfg
    cfg.model.adv_loss = dict(type='NICEGANAdversarialLoss', loss_weight=meta['adv_weight'])
    cfg.model.cycle_loss = dict(type='L1Loss', loss_weight=meta['cycle_weight'])
    cfg.model.recon_loss = dict(type='L1Loss', loss_weight=meta['recon_weight'])
    cfg.train_dataloader = dict(
        batch_size=batch, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='UnpairedImageDataset', data_root=str(data), test_mode=True,
                     pipeline=pipeline))
    cfg.train_cfg = dict(by_epoch=False, max_iters=1, val_interval=1000)
    cfg.param_scheduler.total_iters = meta['iteration']
    for group in ('generators', 'discriminators'):
        cfg.optim_wrapper[group].optimizer.update(lr=meta['lr'],
                                                  weight_decay=meta['weight_decay'])
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.custom_hooks = []
    cfg.load_from = str(tmp_path / 'init.pth')
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = 'pipeline-parity'

    captured = {}

    class Capture(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            captured.update({k: v.item() for k, v in outputs.items()})

    runner = Runner.from_cfg(cfg)
    runner.register_hook(Capture())
    runner.train()

    ref = torch.load(osp.join(fx, 'expected_train.pt'), weights_only=True)['losses'][0]
    weights = dict(adv=meta['adv_weight'], cycle=meta['cycle_weight'],
                   recon=meta['recon_weight'])
    for ours, official, w in official_loss_names(weights):
        assert captured[ours] == pytest.approx(w * ref[official], rel=1e-4), official


def test_test_pipeline_equals_official_transform(project_root, photo_paths):
    """configs/nicegan_c2d.py's test pipeline + data preprocessor give, on real photos,
    what the official test transform gives (PIL RGB -> Resize((256, 256)) -> ToTensor ->
    Normalize(0.5, 0.5)), written here with torchvision as the independent reference."""
    import torchvision.transforms as T
    from mmagic.registry import MODELS
    from mmengine.config import Config
    from mmengine.dataset import Compose, pseudo_collate
    from PIL import Image

    from nicegan_plugin.engine import derive_keys
    cfg = derive_keys(Config.fromfile(osp.join(project_root, 'configs', 'nicegan_c2d.py')))
    pre = MODELS.build(cfg.model.data_preprocessor)
    pipeline = Compose(cfg.test_pipeline)
    official = T.Compose([T.Resize((256, 256)), T.ToTensor(),
                          T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    cats, dogs = photo_paths('cat', 4), photo_paths('dog', 4)
    items = [pipeline(dict(img_A_path=c, img_B_path=d)) for c, d in zip(cats, dogs)]
    inputs = pre(pseudo_collate(items), True)['inputs']
    for i, (c, d) in enumerate(zip(cats, dogs)):
        for key, path in (('img_cat', c), ('img_dog', d)):
            ref = official(Image.open(path).convert('RGB'))
            torch.testing.assert_close(inputs[key][i], ref, rtol=0, atol=1e-6)

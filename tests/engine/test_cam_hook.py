"""NICEGANCAMVisualizationHook and MMagic's VisualizationHook in short real Runner runs."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch


@pytest.fixture(scope='module')
def data_root(tmp_path_factory, make_image_set):
    return make_image_set(str(tmp_path_factory.mktemp('data')), n_a=3, n_b=4, size=72)


@pytest.fixture(scope='module')
def make_runner(tiny_paper_config):
    """``make_runner(tmp_path, data_root, name, custom_hooks, max_iters=2)``: a Runner of
    the shrunk paper config with these custom hooks, logging every iteration."""
    def make(tmp_path, data_root, name, custom_hooks, max_iters=2):
        from mmengine.runner import Runner
        cfg = tiny_paper_config(data_root)
        cfg.update(work_dir=str(tmp_path / name), experiment_name=f'{name}_{id(tmp_path)}',
                   custom_hooks=custom_hooks, log_level='WARNING')
        cfg.train_cfg.update(max_iters=max_iters, val_interval=10**6)
        cfg.default_hooks.checkpoint = None
        cfg.default_hooks.logger.interval = 1
        cfg.param_scheduler.total_iters = max_iters
        return Runner.from_cfg(cfg)
    return make


def vis_images(runner, pattern='*.png'):
    return sorted(glob.glob(osp.join(runner.log_dir, '**', 'vis_image', pattern),
                            recursive=True))


def _cam_hook(runner):
    from nicegan_plugin.engine.hooks.cam import NICEGANCAMVisualizationHook
    return next(h for h in runner.hooks if isinstance(h, NICEGANCAMVisualizationHook))


def test_cam_hook_train_and_test(tmp_path, data_root, make_runner, tiny_size):
    import cv2

    from nicegan_plugin.utils import ModelIO
    hook_cfg = dict(type='NICEGANCAMVisualizationHook', interval=1, num_samples=2)
    runner = make_runner(tmp_path, data_root, 'cam', [hook_cfg])
    runner.train()
    names = [osp.basename(p) for p in vis_images(runner)]
    assert names == ['cam_horse2zebra_1.png', 'cam_horse2zebra_2.png',
                     'cam_zebra2horse_1.png', 'cam_zebra2horse_2.png'], names
    panel = cv2.imread(vis_images(runner)[-1])  # zebra2horse at iter 2, BGR
    assert panel.shape == (5 * tiny_size, 2 * tiny_size, 3)
    # row 0 = the real val images (testB, sorted), colours right (BGR on disk)
    for col, name in enumerate(['b000.png', 'b001.png']):
        real = cv2.resize(cv2.imread(osp.join(data_root, 'testB', name)), (tiny_size, tiny_size))
        tile = panel[:tiny_size, col * tiny_size:(col + 1) * tiny_size].astype(int)
        assert np.abs(tile - real.astype(int)).mean() < 3, name
    # row 1 = JET heatmap: saturated colours, not a copy of the image
    heat = panel[tiny_size:2 * tiny_size].astype(int)
    assert (heat.max(2) - heat.min(2)).mean() > 100

    # drawing again leaves the model exactly as it was: weights, SN state, modes
    model, hook = runner.model, _cam_hook(runner)
    model.train()
    model.discriminators['horse'].eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    hook.draw(runner, 'train', 99)
    assert [m.training for m in model.modules()] == modes
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    # test phase: drawn from the test loop's dataset after the test epoch
    runner.test()
    assert osp.basename(vis_images(runner, 'test_cam_*')[0]).startswith('test_cam_horse2zebra')
    # samples are real model inputs: the panel's real row round-trips them
    io = ModelIO(model)
    samples = hook.samples(runner, 'test')['horse']
    assert samples.shape == (2, 3, tiny_size, tiny_size) and samples.abs().max() <= 1
    assert io.to_bgr(samples).shape == (2, tiny_size, tiny_size, 3)

    # a full mmengine checkpoint (message hub, optimizer) loads for inference
    from nicegan_plugin.apis import load_model
    runner.save_checkpoint(str(tmp_path), 'iter_2.pth')
    loaded = load_model(runner.cfg, str(tmp_path / 'iter_2.pth'))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_colorize_heatmap_is_official_cam():
    """min-max -> uint8 -> resize -> JET (BGR); constant maps do not produce NaN."""
    from nicegan_plugin.visualization import colorize_heatmap
    heat = np.array([[[-2., 0.], [1., 6.]]], np.float32)  # (1, h, w) like D's heatmap
    out = colorize_heatmap(heat)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == [128, 0, 0] and out[1, 1].tolist() == [0, 0, 128]
    assert colorize_heatmap(heat, (8, 6)).shape == (8, 6, 3)
    assert colorize_heatmap(np.ones((4, 4))).tolist() == colorize_heatmap(np.zeros((4, 4))).tolist()


def test_cam_hook_does_not_alter_training(tmp_path, data_root, make_runner):
    """Same seed, with and without the hook (drawing from the randomly augmented
    train set every iteration): bit-identical weights after training."""
    hook_cfg = dict(type='NICEGANCAMVisualizationHook', interval=1, num_samples=2,
                    data_source='train')
    states = []
    for name, hooks in (('plain', []), ('hooked', [hook_cfg])):
        runner = make_runner(tmp_path, data_root, name, hooks, max_iters=3)
        runner.train()
        states.append(runner.model.state_dict())
    assert len(vis_images(runner)) == 6
    for k, v in states[0].items():
        assert torch.equal(v, states[1][k]), k


def test_mmagic_visualization_hook(tmp_path, data_root, make_runner):
    """MMagic's own VisualizationHook (Translation / TranslationVal) works with NICEGAN."""
    hook_cfg = dict(type='VisualizationHook', interval=1, n_samples=2,
                    vis_kwargs_list=[dict(type='Translation', name='trans'),
                                     dict(type='TranslationVal', name='trans_val')])
    runner = make_runner(tmp_path, data_root, 'mmvis', [hook_cfg], max_iters=1)
    runner.train()
    names = [osp.basename(p) for p in vis_images(runner)]
    assert names == ['trans_1.png', 'trans_val_1.png'], names

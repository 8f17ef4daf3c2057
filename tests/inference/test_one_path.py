"""Every way of translating gives the model's eval-mode translation: with ``ema=True``
and raw generators that differ from their average, every path uses the averaged
(EMA) generators, as ``model.translation()`` does in eval mode."""
import os.path as osp

import numpy as np
import pytest
import torch


@pytest.fixture(scope='module')
def ema_ckpt(tmp_path_factory, make_image_set, tiny_paper_config, tiny_size):
    """(config, checkpoint, data root, model) of a tiny NICE-GAN with ``ema=True`` whose
    raw generators were moved far from their average."""
    from mmagic.registry import MODELS
    tmp = tmp_path_factory.mktemp('ema')
    data = make_image_set(str(tmp / 'data'), n_a=2, n_b=2, size=tiny_size)
    cfg = tiny_paper_config(data)
    cfg.model.ema = True
    cfg_path = str(tmp / 'ema_cfg.py')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():  # raw generators != their average
        for p in model.generators.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    ckpt = str(tmp / 'ema.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {'img_size': [tiny_size] * 2}}, ckpt)
    return cfg_path, ckpt, data, model.eval()


def _images(data):
    from nicegan_plugin.utils import collect_images, read_rgb
    files = [p for p, _ in collect_images(osp.join(data, 'testA'))]
    return files, [read_rgb(p) for p in files]


def _expected(model, images, target='zebra'):
    """(EMA translation, raw translation) as RGB uint8, from the model's own modules."""
    from nicegan_plugin.utils import ModelIO
    io = ModelIO(model)
    x = io.to_input(images)
    source = model.other_domain(target)
    with torch.no_grad():
        ema = model.translation(x, target_domain=target)  # eval mode: the EMA
        raw = model.generators[target](model.encode(x, source))
    return io.to_rgb(ema), io.to_rgb(raw), ema


def _read(path):
    from nicegan_plugin.utils import read_rgb
    return read_rgb(path).astype(int)


#: Grey levels from a rounding tie (x.5) within which two float32 computations of the
#: same translation may round to neighbouring values. A batch of N images and one image
#: at a time run different kernels (oneDNN picks them by batch size; reductions split by
#: thread count): measured up to 1.6e-6 apart in [-1, 1], 2e-4 grey levels; 10x that.
TIE_BAND = 2e-3


def assert_equal_but_at_ties(got, reference, what):
    """``got`` (N, H, W, 3) RGB ints equals the RGB rounding of ``reference`` (N, 3, H,
    W) float in [-1, 1] except by one grey level where ``reference`` lies within
    ``TIE_BAND`` of a rounding tie."""
    from nicegan_plugin.utils.pixels import to_uint8
    want = to_uint8(reference.numpy()).astype(int)
    level = reference.numpy().transpose(0, 2, 3, 1) * 127.5 + 127.5
    at_tie = np.abs(level - np.floor(level) - 0.5) < TIE_BAND
    off = got != want
    assert np.abs(got - want).max() <= 1, what
    assert not (off & ~at_tie).any(), f'{what}: {int((off & ~at_tie).sum())} values differ'


def test_api_paths_use_the_ema(ema_ckpt):
    from nicegan_plugin.apis import load_model, translate_arrays
    from nicegan_plugin.visualization import direction_rows
    cfg, ckpt, data, built = ema_ckpt
    model = load_model(cfg, ckpt)
    _, images = _images(data)
    want, raw, _ = _expected(model, images)
    assert np.abs(want.astype(int) - raw.astype(int)).max() > 20  # the test can fail
    for kwargs in ({}, {'native_size': True}, {'heatmaps': True},
                   {'native_size': True, 'heatmaps': True}):
        outs, _ = translate_arrays(model, images, 'zebra', **kwargs)
        assert np.array_equal(np.stack(outs), want), kwargs
    from nicegan_plugin.utils import ModelIO
    rows = direction_rows(model, ModelIO(model).to_input(images), 'horse')
    assert np.array_equal(rows['translation'][..., ::-1], want)


def test_inferencer_uses_the_ema(ema_ckpt):
    import warnings

    from nicegan_plugin.apis import NICEGANTranslationInferencer
    cfg, ckpt, data, _ = ema_ckpt
    files, images = _images(data)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        infer = NICEGANTranslationInferencer(cfg, ckpt, device='cpu')
    result, _ = infer(img=files[0])
    _, _, ema = _expected(infer.model.eval(), images[:1])
    torch.testing.assert_close(result['infer_results'].float().reshape(ema.shape), ema,
                               atol=1e-5, rtol=0)


def test_tools_translate_export_and_test_use_the_ema(ema_ckpt, tmp_path, run_tools):
    from nicegan_plugin.apis import load_model, open_translator
    from nicegan_plugin.inference import to_model_range
    cfg, ckpt, data, _ = ema_ckpt
    model = load_model(cfg, ckpt)
    files, images = _images(data)
    want, _, ema = _expected(model, images)
    src = osp.join(data, 'testA')
    modes = {'default': [], 'native': ['--native-size'], 'heatmaps': ['--heatmaps'],
             'onnxruntime': ['--backend', 'onnxruntime', '--native-size'],
             'torchscript': ['--backend', 'torchscript']}
    onnx = str(tmp_path / 'h2z.onnx')
    runs = run_tools('tools/translate.py', [
        [cfg, ckpt, '--input', src, '--output', str(tmp_path / m), *flags, '--no-progress']
        for m, flags in modes.items()] + [], workers=2)
    runs += run_tools('tools/export.py', [[cfg, ckpt, '--out', onnx, '--dynamic-size']])
    runs += run_tools('tools/test.py', [[cfg, ckpt, '--work-dir', str(tmp_path / 'test')]])
    for proc in runs:
        assert proc.returncode == 0, proc.stderr[-2000:]
    for mode in modes:
        got = np.stack([_read(str(tmp_path / mode / osp.basename(f))) for f in files])
        if mode in ('default', 'native', 'heatmaps'):
            # the tool translates one image at a time (--batch-size 1), the reference is a
            # batch of two: equal but at rounding ties (TIE_BAND)
            assert_equal_but_at_ties(got, ema, mode)
        else:  # other kernels (onnxruntime, TorchScript): 1e-4 apart (checked below)
            assert np.abs(got - want.astype(int)).max() <= 1, mode
    y, _ = open_translator(onnx).forward(to_model_range(np.stack(images)))
    assert np.abs(y - ema.numpy()).max() <= 1e-4
    saved = [osp.join(tmp_path, 'test', 'translations', 'fake_zebra', osp.basename(f))
             for f in files]
    got = np.stack([_read(p) for p in saved])
    assert np.abs(got - want.astype(int)).max() <= 1


def test_compare_grid_uses_the_ema(ema_ckpt, tmp_path):
    from nicegan_plugin.apis import load_model
    from nicegan_plugin.benchmarks.compare import compare_models
    cfg, ckpt, data, _ = ema_ckpt
    model = load_model(cfg, ckpt)
    _, images = _images(data)
    want, raw, _ = _expected(model, images)
    result = compare_models([(cfg, ckpt)], data, str(tmp_path), metrics=False, num_grid=2,
                            device='cpu')
    from nicegan_plugin.utils import resize_rgb
    # row 1 of the grid: the model's horse -> zebra translations, after a 110 px label,
    # at 96 px (comparison_grid's defaults)
    block = result.grid[96:192, 110:206]
    assert np.array_equal(block, resize_rgb(want[0], (96, 96)))
    assert not np.array_equal(block, resize_rgb(raw[0], (96, 96)))

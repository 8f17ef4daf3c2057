"""Export to ONNX / TorchScript (nicegan_plugin.deploy.export), the translator backends,
native-size translation, tools/export.py and tools/translate.py --model, and the torch-free
onnxruntime path of docs/deployment.md, on models converted from the official
checkpoints of the parity fixtures, a checkpoint in the format training writes, and real
cat/dog photos."""
import copy
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(scope='module')
def official_model(fixture_dir):
    """``official_model(name)``: the plugin model (eval mode) of a parity fixture's official
    checkpoint (domains cat, dog)."""
    def build(name: str):
        from mmagic.registry import MODELS

        from nicegan_plugin.official.converter import official_to_plugin
        ckpt = torch.load(osp.join(fixture_dir(name), 'official_params_init.pt'),
                          map_location='cpu', weights_only=True)
        out, model_cfg = official_to_plugin(ckpt, 'cat', 'dog', 64)
        model = MODELS.build(model_cfg)
        model.load_state_dict(out['state_dict'], strict=True)
        return model.eval()
    return build


@pytest.fixture(scope='module')
def light(official_model):
    return official_model('light_ch3_64px')


@pytest.fixture(scope='module')
def light_files(light, tmp_path_factory, read_photos):
    """{format: (path, spec)} of cat -> dog exports with heatmap and dynamic size."""
    from nicegan_plugin.deploy.export import export_translator
    tmp = tmp_path_factory.mktemp('light')
    files = {}
    for fmt, name in (('onnx', 'c2d.onnx'), ('torchscript', 'c2d.pt')):
        path = str(tmp / name)
        spec = export_translator(light, path, 'a2b', fmt, heatmap=True, dynamic_size=True,
                                 verify_images=read_photos('cat'))
        files[fmt] = path, spec
    return files


def test_fold_leaves_the_model_intact(light, read_photos):
    """Folding a copy freezes W / sigma in the copy only (a deepcopied parametrized
    module shares its class with the original: removing the parametrization there would
    break the original)."""
    from nicegan_plugin.deploy.export import fold_parametrizations
    disc = light.discriminators['cat']
    x = torch.from_numpy(np.stack(read_photos('cat'))).permute(0, 3, 1, 2).float() / 127.5 - 1
    x = torch.nn.functional.interpolate(x, size=(64, 64), mode='bilinear')
    with torch.no_grad():
        before = disc.encode(x)
        folded = copy.deepcopy(disc).eval()
        assert fold_parametrizations(folded) >= 3  # encoder convs and the CAM linear
        assert torch.equal(folded.encode(x), before)
        assert torch.equal(disc.encode(x), before)
    kinds = {type(p).__name__ for m in disc.modules() if hasattr(m, 'parametrizations')
             for p in m.parametrizations.weight}
    assert kinds == {'OfficialSpectralNorm'}


@pytest.mark.parametrize('fmt', ['onnx', 'torchscript'])
def test_light_export_matches_pytorch_on_photos(light, light_files, fmt, read_photos):
    from nicegan_plugin.deploy.backends import open_translator
    from nicegan_plugin.deploy.export import TOLERANCE
    path, spec = light_files[fmt]
    results = spec['verification']['results']
    assert [tuple(r['size']) for r in results] == [(64, 64), (48, 80), (96, 48)]
    assert all(r['max_abs'] <= TOLERANCE and r['heatmap_max_rel'] <= TOLERANCE
               for r in results)
    with open(path + '.json') as f:
        assert json.load(f) == spec
    backend = open_translator(path)
    assert (backend.name, backend.source_domain, backend.target_domain) == \
        ({'onnx': 'onnxruntime', 'torchscript': 'torchscript'}[fmt], 'cat', 'dog')
    # a size the verification did not use, batch 3 (dynamic batch and size)
    from nicegan_plugin.deploy.export import verify_translator
    from nicegan_plugin.inference import TorchTranslator
    rows = verify_translator(backend, TorchTranslator(light, 'a2b', heatmap=True),
                             read_photos('cat', 3), [(64, 64), (128, 112)])
    assert rows[-1]['batch'] == 3 and rows[-1]['max_abs'] <= TOLERANCE


def test_onnx_graph_holds_encoder_and_generator_only(light, light_files):
    """The discriminator heads (most of its weights) are not in the file."""
    import onnx
    model = onnx.load(light_files['onnx'][0])
    stored = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    disc, gen = light.discriminators['cat'], light.generators['dog']
    n_gen = sum(p.numel() for p in gen.parameters())
    n_disc = sum(p.numel() for p in disc.parameters())
    assert n_gen < stored < n_gen + n_disc // 4


def test_split_reductions_make_onnxruntime_reductions_accurate():
    """Whole-feature-map means (layer norm at 512 px: 4M values) through onnxruntime:
    the split graph keeps the shapes and matches float64 to float32 accuracy."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from nicegan_plugin.deploy.export import split_reductions
    axes = numpy_helper.from_array(np.array([1, 2, 3], np.int64), 'axes')
    hw = numpy_helper.from_array(np.array([2, 3], np.int64), 'hw')
    graph = helper.make_graph(
        [helper.make_node('ReduceMean', ['x', 'axes'], ['mean'], keepdims=0),
         helper.make_node('ReduceSum', ['x', 'hw'], ['sum'], keepdims=1),
         helper.make_node('GlobalAveragePool', ['x'], ['pool'])],
        'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 64, 256, 256])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n, shape in
         (('mean', [1]), ('sum', [1, 64, 1, 1]), ('pool', [1, 64, 1, 1]))],
        initializer=[axes, hw])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    assert split_reductions(model) == 3
    assert not {'axes', 'hw'} & {t.name for t in model.graph.initializer}  # now unused
    assert [n.op_type for n in model.graph.node] == ['ReduceMean'] * 3 + ['ReduceSum'] * 2 + \
        ['ReduceMean'] * 2
    x = np.maximum(np.random.RandomState(0).randn(1, 64, 256, 256), 0) + 0.5
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=['CPUExecutionProvider'])
    mean, total, pool = session.run(None, {'x': x.astype(np.float32)})
    assert mean.shape == (1,) and total.shape == (1, 64, 1, 1) and pool.shape == total.shape
    for got, ref in ((mean, x.mean(axis=(1, 2, 3))), (total, x.sum(axis=(2, 3), keepdims=True)),
                     (pool, x.mean(axis=(2, 3), keepdims=True))):
        assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-6
    onnx.checker.check_model(model)


def test_full_model_exports_at_its_size(tmp_path, official_model, read_photos):
    """Full model (MLP tied to img_size): fixed 64x64 even if dynamic size is asked for."""
    from nicegan_plugin.deploy.backends import open_translator
    from nicegan_plugin.deploy.export import export_translator
    model = official_model('full_ch2_64px')
    notes = []
    for fmt in ('onnx', 'torchscript'):
        path = str(tmp_path / f'd2c.{fmt}')
        spec = export_translator(model, path, 'b2a', fmt, dynamic_size=True,
                                 verify_images=read_photos('dog'), log=notes.append)
        assert spec['input']['dynamic_size'] is False and spec['direction'] == 'dog2cat'
        assert [r['size'] for r in spec['verification']['results']] == [[64, 64]]
        assert spec['verification']['results'][0]['max_abs'] <= 1e-4
        backend = open_translator(path)
        with pytest.raises(ValueError, match=r'cannot take a 96x96 image: it takes 64x64 only'):
            backend.forward(np.zeros((1, 3, 96, 96), np.float32))
        out, heat = backend.forward(np.zeros((3, 3, 64, 64), np.float32))
        assert out.shape == (3, 3, 64, 64) and heat is None
    assert len(notes) == 2 and 'fixed size 64x64' in notes[0]


def test_verification_detects_a_perturbed_weight(light, light_files, read_photos):
    from nicegan_plugin.deploy.backends import open_translator
    from nicegan_plugin.deploy.export import VerificationError, verify_translator
    from nicegan_plugin.inference import TorchTranslator
    backend = open_translator(light_files['onnx'][0])
    for net in ('discriminators', 'generators'):
        other = copy.deepcopy(light)
        domain = 'cat' if net == 'discriminators' else 'dog'
        weight = next(p for n, p in getattr(other, net)[domain].named_parameters()
                      if 'weight' in n)
        with torch.no_grad():
            weight.view(-1)[0] += 0.05
        with pytest.raises(VerificationError, match=r'does not reproduce the PyTorch'):
            verify_translator(backend, TorchTranslator(other, 'a2b', heatmap=True),
                              read_photos('cat'), [(64, 64)])


def test_preprocessor_space_is_converted(tmp_path, tiny_model_cfg, read_photos):
    """A model whose preprocessor is BGR with its own mean/std: the exported translator
    still takes RGB in [-1, 1] and gives what the PyTorch translation path gives."""
    from mmagic.registry import MODELS

    from nicegan_plugin.apis.translation import translate_arrays
    from nicegan_plugin.deploy.backends import open_translator
    from nicegan_plugin.deploy.export import export_translator
    cfg = tiny_model_cfg('cat', 'dog')
    cfg['data_preprocessor'].update(mean=[90.0, 110.0, 130.0], std=[50.0, 60.0, 70.0],
                                    output_channel_order='BGR')
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    path = str(tmp_path / 'bgr.pt')
    export_translator(model, path, 'b2a', 'torchscript', verify=False)
    images = [np.asarray(Image.fromarray(im).resize((64, 64), Image.BILINEAR))
              for im in read_photos('dog')]
    ours, _ = open_translator(path).translate(images)
    ref, _ = translate_arrays(model, images, 'cat', (64, 64), keep_size=False)
    diff = np.abs(ours.astype(int) - np.stack(ref).astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.01


def test_bad_inputs(light, light_files, tmp_path):
    from nicegan_plugin.deploy.backends import OnnxRuntimeTranslator, open_translator
    from nicegan_plugin.deploy.export import export_translator
    onnx_path, ts_path = light_files['onnx'][0], light_files['torchscript'][0]
    with pytest.raises(ValueError, match=r'is a torchscript file, not onnx: use --backend '
                                         r'torchscript'):
        open_translator(ts_path, 'onnxruntime')
    with pytest.raises(ValueError, match=r'is a onnx file, not torchscript: use --backend '
                                         r'onnxruntime'):
        open_translator(onnx_path, 'torchscript')
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': light.state_dict()}, ckpt)
    with pytest.raises(ValueError, match=r'training checkpoint, not an exported translator'):
        open_translator(str(ckpt))
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'not a model at all')
    with pytest.raises(ValueError, match=r'neither an ONNX nor a TorchScript translator'):
        open_translator(str(junk))
    import onnx
    stripped = onnx.load(onnx_path)
    del stripped.metadata_props[:]
    onnx.save(stripped, str(tmp_path / 'other.onnx'))
    with pytest.raises(ValueError, match=r'carries no NICE-GAN translator metadata'):
        OnnxRuntimeTranslator(str(tmp_path / 'other.onnx'))
    backend = open_translator(onnx_path)
    with pytest.raises(ValueError, match=r'cannot take a 70x90 image: it takes heights and '
                                         r'widths that are multiples of 4 and at least 48 px '
                                         r'\(e.g. 72x92\)'):
        backend.forward(np.zeros((1, 3, 70, 90), np.float32))
    with pytest.raises(ValueError, match=r'cannot take a 40x40 image'):
        backend.forward(np.zeros((1, 3, 40, 40), np.float32))
    with pytest.raises(ValueError, match=r"unknown direction 'cat2horse'; use one of "
                                         r"\['a2b', 'b2a', 'cat2dog', 'dog2cat'\]"):
        export_translator(light, str(tmp_path / 'x.onnx'), 'cat2horse')
    assert not (tmp_path / 'x.onnx').exists()


# ------------------------------------------------- onnxruntime without torch/mmagic
def readme_example(project_root: str) -> str:
    with open(osp.join(project_root, 'docs', 'deployment.md')) as f:
        page = f.read()
    blocks = [b for b in re.findall(r'```python\n(.*?)```', page, re.S)
              if 'onnxruntime' in b]
    assert blocks, 'docs/deployment.md lost its onnxruntime example'
    return blocks[0]


def test_readme_onnxruntime_example_needs_no_torch(light, light_files, tmp_path, project_root,
                                                   read_photos):
    """The example of docs/deployment.md, in a fresh Python process that must not import torch or
    mmagic, translates real photos as the plugin's translation path does."""
    from nicegan_plugin.apis.translation import translate_arrays
    code = readme_example(project_root)
    assert len(code.strip().splitlines()) <= 16
    (tmp_path / 'example.py').write_text(code)
    inputs = []
    for i, im in enumerate(read_photos('cat', 3)):
        inputs.append(str(tmp_path / f'cat{i}.png'))  # lossless, unlike the shared JPEGs
        Image.fromarray(im).save(inputs[-1])
    check = ('import runpy, sys\n'
             'runpy.run_path("example.py", run_name="__main__")\n'
             'loaded = sorted(m for m in ("torch", "mmagic", "mmengine", "mmcv", '
             '"nicegan_plugin") if m in sys.modules)\n'
             'assert not loaded, f"the example imported {loaded}"\n')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run([sys.executable, '-c', check, light_files['onnx'][0], *inputs],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    images = read_photos('cat', 3)
    ref, _ = translate_arrays(light, images, 'dog')
    for i, path in enumerate(inputs):
        out = np.asarray(Image.open(path[:-4] + '_dog.png'))
        assert out.shape == images[i].shape
        diff = np.abs(out.astype(int) - ref[i].astype(int))
        # float32 differences of ~1e-6 flip a rounding now and then; bicubic resizing back
        # to 178x218 spreads such a flip over a few pixels
        assert diff.max() <= 2 and diff.mean() < 0.01, (diff.max(), diff.mean())


# ------------------------------------------------------------------ native size
def model_forward(model, image: np.ndarray, source: str, target: str) -> np.ndarray:
    """The model's own translation of one RGB uint8 image, no resizing (contiguous NCHW
    input: ``ModelIO.to_input`` gives a channels-last view, which convolves with other
    rounding)."""
    from nicegan_plugin.utils.pixels import ModelIO
    io = ModelIO(model)
    x = io.to_input([image]).contiguous()
    with torch.no_grad():
        return io.to_rgb(model.generators[target](model.encode(x, source)))[0]


def test_native_size(light, official_model, read_photos):
    from nicegan_plugin.apis.translation import translate_arrays
    photo = read_photos('cat', 1)[0]  # 218x178: not multiples of 4
    exact = photo[:216, :176]
    outs, overlays = translate_arrays(light, [exact, photo, photo[:60, :100]], 'dog',
                                      heatmaps=True, native_size=True)
    # a size the network takes: exactly the model's output, no resizing anywhere
    assert np.array_equal(outs[0], model_forward(light, exact, 'cat', 'dog'))
    assert [o.shape for o in outs] == [(216, 176, 3), (218, 178, 3), (60, 100, 3)]
    assert [o.shape for o in overlays] == [o.shape for o in outs]
    # padding only adds rows/columns at the bottom/right: far from them, the output
    # is close to the unpadded translation (the style MLP pools over the padding too)
    diff = np.abs(outs[1][:150, :120].astype(int) - outs[0][:150, :120].astype(int))
    assert diff.mean() < 3
    with pytest.raises(ValueError, match=r'takes 64x64 only, so it cannot translate at '
                                         r'native size'):
        translate_arrays(official_model('full_ch2_64px'), [photo], 'dog', native_size=True)


def test_backends_translate_files_like_pytorch(light, light_files, tmp_path, read_photos):
    """translate_images through TorchScript (file, and exported on the fly) equals the
    PyTorch model; onnxruntime agrees to a rounding step."""
    from nicegan_plugin.apis.translation import translate_images
    from nicegan_plugin.deploy.backends import open_translator
    from nicegan_plugin.deploy.export import model_translator
    src = tmp_path / 'in'
    src.mkdir()
    for i, im in enumerate(read_photos('cat', 2)):
        Image.fromarray(im).save(src / f'c{i}.png')
    runs = {'pytorch': light,
            'torchscript': open_translator(light_files['torchscript'][0]),
            'onnxruntime': open_translator(light_files['onnx'][0]),
            'torchscript_on_the_fly': model_translator(light, 'torchscript', 'a2b', True,
                                                    str(tmp_path)),
            # what tools/translate.py --backend onnxruntime does: export, verify, open
            'onnxruntime_on_the_fly': model_translator(light, 'onnxruntime', 'a2b', True,
                                                    str(tmp_path))}
    read = {}
    for name, model in runs.items():
        for native in (False, True):
            out = tmp_path / f'{name}_{native}'
            report = translate_images(model, str(src), str(out), 'a2b', batch_size=2,
                                      heatmaps=True, progress=False, native_size=native)
            assert len(report.outputs) == 2 and not report.failed
            read[name, native] = [np.asarray(Image.open(out / f'c{i}{cam}.png')).astype(int)
                                  for i in range(2) for cam in ('', '_cam')]
    for native in (False, True):
        ref = read['pytorch', native]
        for name in ('torchscript', 'torchscript_on_the_fly'):
            assert all(np.array_equal(a, b) for a, b in zip(read[name, native], ref))
        for name in ('onnxruntime', 'onnxruntime_on_the_fly'):
            assert max(np.abs(a - b).max() for a, b in zip(read[name, native][::2],
                                                           ref[::2])) <= 2


# ---------------------------------------------------------------------- tools
def test_tools_export_and_translate_model(tiny, tmp_path, read_photos, run_tools):
    """A checkpoint as training writes it: tools/export.py (TorchScript, and a verification
    that must fail), then tools/translate.py --model at native size."""
    from nicegan_plugin.apis.translation import translate_images
    cfg, ckpt, model = tiny
    src = tmp_path / 'in'
    src.mkdir()
    for i, im in enumerate(read_photos('dog', 2)):
        Image.fromarray(im).save(src / f'd{i}.png')
    ts, strict = str(tmp_path / 'z2h.pt'), str(tmp_path / 'strict.onnx')
    ok, bad = run_tools('tools/export.py', [
        [cfg, ckpt, '--direction', 'b2a', '--format', 'torchscript', '--out', ts,
         '--heatmap', '--dynamic-size', '--verify-images', str(src)],
        [cfg, ckpt, '--direction', 'zebra2horse', '--out', strict, '--tolerance', '1e-9']])
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert 'verified against PyTorch on 2 given images at 64x64, 48x80, 96x48' in ok.stdout
    # onnxruntime differs from PyTorch by ~1e-6: a 1e-9 tolerance must fail loudly
    assert bad.returncode == 1, bad.stderr[-2000:]
    assert 'verification failed' in bad.stderr and 'within 1e-09' in bad.stderr
    assert not osp.exists(strict) and not osp.exists(strict + '.json')
    with open(ts + '.json') as f:
        spec = json.load(f)
    assert (spec['source_domain'], spec['target_domain']) == ('zebra', 'horse')
    proc, = run_tools('tools/translate.py', [
        ['--model', ts, '--input', str(src), '--output', str(tmp_path / 'out'),
         '--native-size', '--heatmaps', '--no-progress']])
    assert proc.returncode == 0, proc.stderr[-2000:]
    translate_images(model, str(src), str(tmp_path / 'ref'), 'b2a', heatmaps=True,
                     progress=False, native_size=True)
    for name in ('d0.png', 'd0_cam.png', 'd1.png'):
        assert np.array_equal(np.asarray(Image.open(tmp_path / 'out' / name)),
                              np.asarray(Image.open(tmp_path / 'ref' / name)))


def test_inference_benchmark_rows(tiny):
    """Smoke test of the benchmark's bookkeeping (TorchScript only: ONNX export is slow)."""
    from nicegan_plugin.benchmarks.inference import benchmark_inference, markdown_table
    rows = benchmark_inference(tiny[2], 'a2b', sizes=[64, 48], batches=[1, 2],
                               backends=['pytorch', 'torchscript'], iters=1, warmup=0)
    assert [(r['size'], r['batch'], r['backend']) for r in rows] == [
        (s, b, n) for s in (64, 48) for b in (1, 2) for n in ('pytorch', 'torchscript')]
    assert all(r['max_abs_vs_pytorch'] == 0 and r['images_per_s'] > 0 for r in rows)
    assert markdown_table(rows).count('\n') == len(rows) + 1

"""tools/translate.py, nicegan_plugin.apis and MMagic's inference entry points, on a tiny model."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import warnings

import numpy as np
import torch
from PIL import Image


def _write_inputs(root: str) -> dict:
    """Mixed sizes, grayscale, RGBA, nested folders, a corrupt and a non-image file;
    returns {relative path: (height, width)} of the valid images."""
    rng = np.random.RandomState(0)
    sizes = {'a.png': (40, 30), 'sub/b.jpg': (100, 70), 'sub/deeper/c.BMP': (64, 64),
             'gray.png': (50, 51), 'rgba.png': (33, 45), 'tiny.png': (1, 3)}
    for rel, (h, w) in sizes.items():
        os.makedirs(osp.dirname(osp.join(root, rel)) or root, exist_ok=True)
        arr = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
        img = Image.fromarray(arr)
        if rel == 'gray.png':
            img = img.convert('L')
        elif rel == 'rgba.png':
            img = Image.fromarray(rng.randint(0, 256, (h, w, 4)).astype(np.uint8), 'RGBA')
        img.save(osp.join(root, rel))
    with open(osp.join(root, 'corrupt.jpg'), 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0 definitely not a jpeg' + bytes(64))
    Image.fromarray(rng.randint(0, 256, (32, 32, 3)).astype(np.uint8)).save(
        osp.join(root, 'trunc.png'))
    with open(osp.join(root, 'trunc.png'), 'r+b') as f:
        f.truncate(1000)  # valid header, pixel data cut off
    with open(osp.join(root, 'notes.txt'), 'w') as f:
        f.write('not an image')
    return sizes


def test_translate_cli_folder(tmp_path, tiny, project_root, photo_paths):
    """End to end in a subprocess: sizes kept, odd modes converted, corrupt files skipped."""
    cfg_path, ckpt, _ = tiny
    src, out = tmp_path / 'in', tmp_path / 'out'
    sizes = _write_inputs(str(src))
    os.makedirs(src / 'photos')
    for path in photo_paths('cat', 2):  # real photos (178x218 JPEG)
        name = osp.basename(path)
        shutil.copy(path, src / 'photos' / name)
        with Image.open(path) as img:
            sizes[f'photos/{name}'] = img.size[::-1]
    proc = subprocess.run(
        [sys.executable, 'tools/translate.py', cfg_path, ckpt, '--input', str(src),
         '--output', str(out), '--batch-size', '3', '--heatmaps', '--device', 'cpu'],
        cwd=project_root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rel, (h, w) in sizes.items():
        for path in (out / rel, out / (osp.splitext(rel)[0] + '_cam' + osp.splitext(rel)[1])):
            with Image.open(path) as img:
                assert img.mode == 'RGB' and img.size == (w, h), (path, img.mode, img.size)
    assert f'translated {len(sizes)} image(s), skipped 2' in proc.stdout
    assert 'corrupt.jpg' in proc.stdout and 'trunc.png' in proc.stdout
    assert not (out / 'notes.txt').exists() and not (out / 'corrupt.jpg').exists()


def test_translate_cli_options_and_errors(tmp_path, tiny, tiny_size, run_tools):
    cfg_path, ckpt, model = tiny
    src = tmp_path / 'in'
    _write_inputs(str(src))
    # single file, no resize back, b2a
    out = tmp_path / 'single'
    single = [cfg_path, ckpt, '--input', str(src / 'sub' / 'b.jpg'), '--output', str(out),
              '--no-resize-back', '--direction', 'b2a']
    # nothing readable: non-zero exit, the file is named
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'x.png').write_bytes(b'garbage')
    unreadable = [cfg_path, ckpt, '--input', str(bad), '--output', str(tmp_path / 'o')]
    # bad paths and checkpoints: exit 2 with the file / key named
    cases = {
        'config file not found: nope.py': ['nope.py', ckpt],
        'checkpoint not found: missing.pth': [cfg_path, 'missing.pth'],
        'input not found': [cfg_path, ckpt, '--input', str(tmp_path / 'nothing'),
                            '--output', str(tmp_path / 'o')],
        "unknown direction 'x2y'": [cfg_path, ckpt, '--direction', 'x2y'],
    }
    official = tmp_path / 'official.pt'
    torch.save({k: {} for k in ('gen2B', 'gen2A', 'disA', 'disB')}, official)
    cases['convert_official_checkpoint'] = [cfg_path, str(official)]
    wrong = tmp_path / 'wrong.pth'
    sd = dict(model.state_dict())
    sd['generators.zebra.fc_gamma.weight'] = torch.zeros(3, 3)
    del sd['discriminators.horse.gamma']
    torch.save({'state_dict': sd}, wrong)
    cases['generators.zebra.fc_gamma.weight'] = [cfg_path, str(wrong)]
    cases['discriminators.horse.gamma'] = [cfg_path, str(wrong)]
    other = tmp_path / 'other.pth'
    torch.save({'state_dict': {k.replace('horse', 'cat'): v for k, v in sd.items()}}, other)
    cases["domains ['cat', 'zebra']"] = [cfg_path, str(other)]
    for message, args in cases.items():
        if '--input' not in args:
            cases[message] = args + ['--input', str(src), '--output', str(tmp_path / 'o')]
    runs = run_tools('tools/translate.py', [single, unreadable, *cases.values()],
                     ['--no-progress'])
    assert runs[0].returncode == 0, runs[0].stderr
    with Image.open(out / 'b.jpg') as img:
        assert img.size == (tiny_size, tiny_size)
    assert runs[1].returncode == 1 and 'x.png' in runs[1].stdout
    for message, proc in zip(cases, runs[2:]):
        assert proc.returncode == 2, (message, proc.stderr)
        assert message in proc.stderr, (message, proc.stderr)


def test_translate_arrays_matches_model(tiny, tiny_size):
    """The API adds nothing but I/O: same numbers as model.translation, heatmap = D's."""
    from nicegan_plugin.apis import translate_arrays
    from nicegan_plugin.utils import ModelIO
    _, _, model = tiny
    rng = np.random.RandomState(1)
    imgs = [rng.randint(0, 256, (tiny_size, tiny_size, 3)).astype(np.uint8) for _ in range(2)]
    outs, overlays = translate_arrays(model, imgs, 'horse', heatmaps=True)
    io = ModelIO(model)
    x = io.to_input(imgs)
    with torch.no_grad():
        expected = io.to_rgb(model.translation(x, target_domain='horse'))
        dis_out = model.discriminators['zebra'](x)
        assert torch.allclose(dis_out.heatmap[:, 0], model.encode(x, 'zebra').sum(1))
    assert np.array_equal(np.stack(outs), expected)
    assert overlays[0].shape == (tiny_size, tiny_size, 3) and overlays[0].dtype == np.uint8
    # RGB in, RGB out: the preprocessor's channel order round-trips
    assert np.array_equal(io.to_rgb(x), np.stack(imgs))


def test_init_model_and_inferencers(tmp_path, tiny, tiny_size):
    """mmagic.apis.init_model, TranslationInferencer and MMagicInferencer('cyclegan')
    load the plugin's config + checkpoint and translate into default_domain."""
    from mmagic.apis import MMagicInferencer, init_model
    from mmagic.apis.inferencers.translation_inferencer import TranslationInferencer
    from mmengine.dataset import Compose, pseudo_collate

    from nicegan_plugin.apis import NICEGANTranslationInferencer
    from nicegan_plugin.utils import ModelIO, read_rgb, resize_rgb
    cfg_path, ckpt, model = tiny
    img = str(tmp_path / 'horse.png')
    Image.fromarray(np.random.RandomState(2).randint(0, 256, (50, 70, 3)).astype(
        np.uint8)).save(img)

    loaded = init_model(cfg_path, ckpt, device='cpu')
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    # what the inferencers should produce: horse (non-default) -> zebra (default)
    data = pseudo_collate([Compose(loaded.cfg.test_pipeline)(
        dict(img_A_path=img, img_B_path=img))])
    x = loaded.data_preprocessor(data, False)['inputs']['img_horse']
    # the pipeline feeds RGB, as the plugin's own I/O does
    size = (tiny_size, tiny_size)
    assert torch.allclose(x, ModelIO(loaded).to_input([resize_rgb(read_rgb(img), size)]))
    with torch.no_grad():
        expected = loaded.translation(x, target_domain='zebra')
    rgb01 = ((expected + 1) / 2).clamp(0, 1)

    out = str(tmp_path / 'inferencer' / 'out.png')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        infer = TranslationInferencer(cfg_path, ckpt, device='cpu')
        mm = MMagicInferencer(model_name='cyclegan', model_config=cfg_path,
                              model_ckpt=ckpt, device='cpu')
    result, vis = infer(img=img, result_out_dir=out)
    assert torch.allclose(result['infer_results'], expected, atol=1e-6)
    # mmagic's own visualize assumes BGR model outputs and swaps the channels of an RGB
    # model; the plugin does not patch MMagic for every user of the process (docs/install.md), so
    # MMagic's inferencers keep that behaviour and NICEGANTranslationInferencer fixes it
    assert torch.allclose(vis, rgb01[:, [2, 1, 0]], atol=1e-6) and osp.isfile(out)
    mm_out = str(tmp_path / 'mm' / 'out.png')
    result = mm.infer(img=img, result_out_dir=mm_out)
    assert torch.allclose(result[0]['infer_results'], expected, atol=1e-6)

    fixed = NICEGANTranslationInferencer(cfg_path, ckpt, device='cpu')
    fixed_out = str(tmp_path / 'fixed' / 'out.png')
    result, vis = fixed(img=img, result_out_dir=fixed_out)
    assert torch.allclose(vis, rgb01, atol=1e-6)
    saved = np.asarray(Image.open(fixed_out))
    want = (rgb01[0].permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    assert np.abs(saved.astype(int) - want).max() <= 1

"""The web demo's handlers (nicegan_plugin.apis.demo), called directly: translations equal
the public translation API's on a real photo (both directions, native size), and bad
input (not an image, grey/RGBA/palette, too many pixels, too small, a direction the
exported file lacks) gives a message instead of an exception."""
import os.path as osp
import struct
import zlib

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope='module')
def cat_photo(photo_paths) -> str:
    """A real cat photo (178x218 JPEG)."""
    return photo_paths('cat', 1)[0]


@pytest.fixture(scope='module')
def model_and_demo(tiny_checkpoint):
    from nicegan_plugin.apis import load_model
    from nicegan_plugin.apis.demo import TranslationDemo, open_demo_translators
    cfg, ckpt = tiny_checkpoint
    demo = TranslationDemo(open_demo_translators(cfg, ckpt))
    return load_model(cfg, ckpt), demo


def expected(model, image, target, **kwargs):
    from nicegan_plugin.apis import translate_arrays
    outs, overlays = translate_arrays(model, [image], target, heatmaps=True, **kwargs)
    return outs[0], overlays[0]


def test_both_directions_equal_the_translation_api(model_and_demo, cat_photo):
    from nicegan_plugin.apis import read_rgb
    model, demo = model_and_demo
    a, b = demo.domains
    assert [v for _, v in demo.directions] == [f'{a}2{b}', f'{b}2{a}']
    assert demo.native_size_available  # the tiny model is light
    photo = cat_photo
    image = read_rgb(photo)
    for direction, target in (('a2b', b), (f'{b}2{a}', a)):
        result = demo.translate(photo, direction)
        assert result.ok, result.message
        assert f'→ {target}' in result.message and osp.basename(photo) in result.message
        want, want_heat = expected(model, image, target)
        assert np.array_equal(result.source, image)
        assert np.array_equal(result.translation, want)
        assert np.array_equal(result.heatmap, want_heat)
        assert result.translation.shape == image.shape


def test_native_size_keeps_the_photo_size(model_and_demo, cat_photo, tmp_path):
    model, demo = model_and_demo
    odd = np.asarray(Image.open(cat_photo).convert('RGB'))[:70, :53]  # not multiples of 4
    path = str(tmp_path / 'odd.png')
    Image.fromarray(odd).save(path)
    result = demo.translate(path, 'a2b', native_size=True)
    assert result.ok, result.message
    assert 'at its own size' in result.message
    want, want_heat = expected(model, odd, demo.domains[1], native_size=True)
    assert result.translation.shape == odd.shape
    assert np.array_equal(result.translation, want)
    assert np.array_equal(result.heatmap, want_heat)
    resized = demo.translate(path, 'a2b')
    assert not np.array_equal(resized.translation, result.translation)


@pytest.mark.parametrize('mode, word', [('L', 'greyscale'), ('RGBA', 'alpha'),
                                        ('P', 'palette'), ('LA', 'alpha')])
def test_grey_rgba_palette_are_converted_and_said(model_and_demo, cat_photo, tmp_path, mode,
                                                 word):
    from nicegan_plugin.apis import read_rgb
    model, demo = model_and_demo
    path = str(tmp_path / f'photo_{mode}.png')
    Image.open(cat_photo).convert(mode).save(path)
    result = demo.translate(path, 'a2b')
    assert result.ok, result.message
    assert any(word in note and 'tools/translate.py' in note for note in result.notes), \
        result.notes
    image = read_rgb(path)
    assert result.source.shape == image.shape[:2] + (3,)
    assert np.array_equal(result.translation, expected(model, image, demo.domains[1])[0])


def test_not_an_image_gives_a_message_and_the_demo_goes_on(model_and_demo, cat_photo,
                                                           tmp_path):
    _, demo = model_and_demo
    text = tmp_path / 'notes.txt'
    text.write_text('not a photo\n')
    truncated = tmp_path / 'cut.jpg'
    truncated.write_bytes(open(cat_photo, 'rb').read()[:300])
    for path in (text, truncated):
        result = demo.translate(str(path), 'a2b')
        assert not result.ok and result.translation is None
        assert f'**{path.name}** is not an image this demo can read' in result.message
        assert 'JPG' in result.message and 'PNG' in result.message
    assert demo.translate(cat_photo, 'a2b').ok
    assert demo.translate(None, 'a2b').message == 'Upload a photo or pick an example.'
    assert 'not received' in demo.translate(str(tmp_path / 'gone.png'), 'a2b').message


def test_a_video_gets_one_line_saying_photos_only(model_and_demo, cat_photo, tmp_path):
    from nicegan_plugin.apis import read_rgb
    from nicegan_plugin.benchmarks.video import make_clip
    _, demo = model_and_demo
    clip = make_clip(str(tmp_path / 'clip.mp4'), read_rgb(cat_photo), frames=2, size=(64, 64))
    result = demo.translate(clip, 'a2b')
    assert not result.ok and result.translation is None
    assert result.message == ('**clip.mp4** is a video; this demo translates photos only. '
                              'Translate videos with tools/translate.py (docs/video.md).')


def png_header_only(path: str, width: int, height: int) -> None:
    """A PNG whose header says ``width`` x ``height`` but whose pixels are cut off:
    the size check must refuse it from the header, without decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack('>I', len(data)) + kind + data + \
            struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
                chunk(b'IDAT', zlib.compress(b'\x00' * 64)))


def test_huge_photos_are_refused_from_the_header(model_and_demo, cat_photo, tmp_path):
    from nicegan_plugin.apis.demo import MAX_PIXELS
    _, demo = model_and_demo
    big = str(tmp_path / 'big.png')
    png_header_only(big, 8000, 6000)  # 48 MP > MAX_PIXELS
    assert 8000 * 6000 > MAX_PIXELS
    result = demo.translate(big, 'a2b')
    assert not result.ok
    assert '**big.png** is 8000x6000 = 48.0 MP' in result.message
    assert 'up to 40.0 MP' in result.message
    bomb = str(tmp_path / 'bomb.png')
    png_header_only(bomb, 30000, 30000)  # PIL's decompression-bomb error at open
    result = demo.translate(bomb, 'a2b')
    assert not result.ok and '**bomb.png** is 900.0 MP; this demo takes' in result.message
    # native size has its own, lower limit (the network runs at the photo's size)
    demo.max_native_pixels = 100 * 100
    try:
        result = demo.translate(cat_photo, 'a2b', native_size=True)
        assert not result.ok and 'native size here is limited to 10,000 px' in result.message
        assert 'Untick "native size"' in result.message
    finally:
        from nicegan_plugin.apis.demo import MAX_NATIVE_PIXELS
        demo.max_native_pixels = MAX_NATIVE_PIXELS


def test_too_small_and_unknown_direction(model_and_demo, cat_photo, tmp_path):
    _, demo = model_and_demo
    tiny = str(tmp_path / 'tiny.png')
    Image.new('RGB', (12, 40), (200, 10, 10)).save(tiny)
    result = demo.translate(tiny, 'a2b')
    assert not result.ok and 'only 12x40 px' in result.message and 'at least 16 px' in \
        result.message
    result = demo.translate(cat_photo, 'sideways')
    assert not result.ok and "unknown direction 'sideways'" in result.message


def test_exported_file_offers_its_one_direction(tiny_checkpoint, cat_photo, tmp_path):
    from nicegan_plugin.apis import load_model, read_rgb
    from nicegan_plugin.apis.demo import TranslationDemo, open_demo_translators
    from nicegan_plugin.deploy.export import export_translator
    cfg, ckpt = tiny_checkpoint
    model = load_model(cfg, ckpt)
    path = str(tmp_path / 'a2b.onnx')
    export_translator(model, path, 'a2b', 'onnx', heatmap=False, dynamic_size=False,
                      verify=False)  # compared with PyTorch below
    translators = open_demo_translators(model_file=path)
    assert [t.name for t in translators] == ['onnxruntime']
    demo = TranslationDemo(translators)
    a, b = demo.domains
    assert demo.directions == [(f'{a} → {b}', f'{a}2{b}')]
    assert not demo.native_size_available  # exported at the fixed training size
    result = demo.translate(cat_photo, 'a2b')
    assert result.ok, result.message
    assert result.heatmap is None and any('--heatmap' in n for n in result.notes)
    want = expected(model, read_rgb(cat_photo), b)[0]
    assert np.abs(result.translation.astype(int) - want).max() <= 1
    refused = demo.translate(cat_photo, 'b2a')
    assert not refused.ok and f'translates {a} → {b} only' in refused.message
    refused = demo.translate(cat_photo, 'a2b', native_size=True)
    assert not refused.ok and 'cannot translate at native size' in refused.message
    with pytest.raises(ValueError, match='not both'):
        open_demo_translators(cfg, ckpt, model_file=path)


def test_examples(tmp_path, tiny_checkpoint):
    from mmengine.config import Config

    from nicegan_plugin.apis.demo import find_examples
    cfg, _ = tiny_checkpoint
    assert find_examples(None, None) == []
    folder = tmp_path / 'ex'
    (folder / 'sub').mkdir(parents=True)
    for name in ('b.png', 'sub/a.jpg'):
        Image.new('RGB', (32, 32)).save(folder / name)
    (folder / 'readme.txt').write_text('x')
    assert find_examples(str(folder)) == [str(folder / 'b.png'), str(folder / 'sub/a.jpg')]
    with pytest.raises(FileNotFoundError, match='examples folder not found'):
        find_examples(str(tmp_path / 'none'))
    # default: the first images of the config's test folders, when present
    data = tmp_path / 'data'
    for sub, n in (('testA', 4), ('testB', 1)):
        (data / sub).mkdir(parents=True)
        for i in range(n):
            Image.new('RGB', (32, 32)).save(data / sub / f'{i}.png')
    config = Config.fromfile(cfg)
    config.test_dataloader.dataset.data_root = str(data)
    local = str(tmp_path / 'cfg.py')
    config.dump(local)
    found = find_examples(None, local, per_domain=3)
    assert found == [str(data / 'testA' / f'{i}.png') for i in range(3)] + \
        [str(data / 'testB' / '0.png')]

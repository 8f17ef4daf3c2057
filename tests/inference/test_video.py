"""Video translation (nicegan_plugin.inference.video, video_io, steady): clips made from
the real test photos with a synthetic audio track. A lossless clip comes out frame-exact
(each frame equals tools/translate.py on that frame as an image) with its audio packets
and timestamps intact; H.264 in .mp4 stays H.264 in .mp4; memory does not grow with the
clip's length; steady statistics cut still-region flicker and equal the plain
translation at momentum 0; broken inputs give one line naming the file and the cause and
keep what was translated before a broken frame."""
import os
import os.path as osp
from fractions import Fraction

import av
import numpy as np
import pytest

SIZE = (72, 88)  # clip frames (height, width): not the tiny model's 64 px


# ------------------------------------------------------------------ helpers
def frames_of(path):
    """[(pts, time_base, RGB frame)] of a clip's first video stream, straight from PyAV."""
    with av.open(path) as c:
        return [(f.pts, f.time_base, f.to_ndarray(format='rgb24')) for f in c.decode(video=0)]


def audio_packets(path):
    """[(pts, dts, duration, bytes)] of a clip's first audio stream."""
    with av.open(path) as c:
        return [(p.pts, p.dts, p.duration, bytes(p)) for p in c.demux(audio=0)
                if p.dts is not None]


def stream_facts(path):
    with av.open(path) as c:
        v = c.streams.video[0]
        return dict(codec=v.codec_context.name, pix_fmt=v.codec_context.pix_fmt,
                    rate=v.average_rate, size=(v.codec_context.height, v.codec_context.width),
                    audio=[a.codec_context.name for a in c.streams.audio])


def break_frame(path: str, out: str, index: int) -> None:
    """A copy of ``path`` whose video packet ``index`` holds scrambled bytes (the
    container stays intact: the decoder, not the demuxer, meets the damage)."""
    with av.open(path) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    data = bytearray(open(path, 'rb').read())
    pos, size = packets[index]
    for i in range(pos + 8, pos + size - 8):
        data[i] = (data[i] * 7 + 3) % 256
    open(out, 'wb').write(bytes(data))


def audio_only(path: str) -> None:
    with av.open(path, 'w') as c:
        s = c.add_stream('flac', rate=16000, layout='mono')
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1600), np.int16), format='s16',
                                           layout='mono')
        frame.sample_rate, frame.pts = 16000, 0
        c.mux(s.encode(frame))
        c.mux(s.encode(None))


@pytest.fixture(scope='module')
def translator(tiny):
    from nicegan_plugin.inference import TorchTranslator
    return TorchTranslator(tiny[2], 'a2b', heatmap=False)


@pytest.fixture(scope='module')
def cat(read_photos):
    return read_photos('cat', 1)[0]


# ------------------------------------------------------------------ the tool
def test_tool_lossless_clip_frame_exact_audio_timestamps_and_bad_inputs(
        tiny_checkpoint, cat, run_tools, tmp_path):
    """One folder mixing a lossless clip (FFV1 + FLAC) and its frames as PNG images: each
    output frame equals the image path's output for that frame; audio packets, timestamps,
    rate, size and codec are the input's. A second folder of broken videos (translated
    with --steady): one line each, and the clip with a broken frame keeps the frames before
    it. An output folder that cannot be made: one line."""
    from nicegan_plugin.benchmarks.video import clip_frames, make_clip
    from nicegan_plugin.utils.image_io import read_rgb, save_rgb
    cfg, ckpt = tiny_checkpoint
    src, bad = tmp_path / 'in', tmp_path / 'bad'
    clip = make_clip(str(src / 'clip.mkv'), cat, frames=7, size=SIZE, motion='pan')
    for i, rgb in enumerate(clip_frames(clip)):
        save_rgb(str(src / 'frames' / f'{i:02d}.png'), rgb)
    long = make_clip(str(tmp_path / 'long.mkv'), cat, frames=10, size=SIZE, motion='pan')
    bad.mkdir()
    (bad / 'garbage.mp4').write_bytes(b'not a video at all\n' * 40)
    audio_only(str(bad / 'sound.mkv'))
    data = open(long, 'rb').read()
    (bad / 'nodecoder.mkv').write_bytes(data.replace(b'V_FFV1', b'V_QQQQ'))
    break_frame(long, str(bad / 'broken.mkv'), 6)
    blocked = tmp_path / 'blocked'
    blocked.write_text('a file where the output folder should be')
    out, out_bad = tmp_path / 'out', tmp_path / 'out_bad'
    good, broken, unwritable = run_tools('tools/translate.py', [
        [cfg, ckpt, '--input', str(src), '--output', str(out), '--batch-size', '3'],
        [cfg, ckpt, '--input', str(bad), '--output', str(out_bad), '--no-progress',
         '--steady'],
        [cfg, ckpt, '--input', clip, '--output', str(blocked / 'sub')]])
    assert good.returncode == 0, good.stderr
    assert 'translated 7 image(s), skipped 0' in good.stdout
    assert 'translated 1 video(s) (7 frames), skipped 0' in good.stdout
    assert 'frame/s' in good.stderr or 's/frame' in good.stderr  # the progress bar's rate
    written = str(out / 'clip.mkv')
    assert sorted(os.listdir(out)) == ['clip.mkv', 'frames']  # no temporary file left
    facts_in, facts_out = stream_facts(clip), stream_facts(written)
    assert facts_out == facts_in
    assert facts_out['codec'] == 'ffv1' and facts_out['audio'] == ['flac']
    before, after = frames_of(clip), frames_of(written)
    assert len(after) == len(before) == 7
    assert [(p, tb) for p, tb, _ in after] == [(p, tb) for p, tb, _ in before]
    for i, (_, _, rgb) in enumerate(after):
        image = read_rgb(str(out / 'frames' / f'{i:02d}.png'))
        assert rgb.shape == image.shape == SIZE + (3,)
        assert np.abs(rgb.astype(int) - image).max() <= 1, i
    assert not np.array_equal(after[0][2], before[0][2])  # it did translate
    assert audio_packets(written) == audio_packets(clip) and audio_packets(clip)

    # broken inputs: one line naming the file and the cause; the rest goes on
    assert broken.returncode == 0, broken.stderr
    lines = broken.stdout.splitlines()
    assert 'translated 1 video(s) (6 frames), skipped 3' in lines

    def line(name):
        found = [ln for ln in lines if osp.join(str(bad), name) in ln]
        assert len(found) == 1, (name, broken.stdout)
        return found[0]
    assert 'not a readable video (Invalid data found' in line('garbage.mp4')
    assert 'no video stream (it holds audio)' in line('sound.mkv')
    assert 'no decoder' in line('nodecoder.mkv')
    assert 'stopped early, frame 6 (t = 0.240 s) could not be decoded' in line('broken.mkv')
    assert 'the 6 frames before are in' in line('broken.mkv')
    assert sorted(os.listdir(out_bad)) == ['broken.mkv']
    kept = frames_of(str(out_bad / 'broken.mkv'))
    assert [p for p, _, _ in kept] == [p for p, _, _ in frames_of(long)][:6]

    assert unwritable.returncode == 2
    assert unwritable.stderr.strip().splitlines()[-1] == (
        f'error: {blocked / "sub"}: cannot write the output folder (Not a directory)')


# ------------------------------------------------------------------ the API
def test_mp4_keeps_container_codec_timestamps_and_audio(translator, cat, tmp_path):
    from nicegan_plugin.benchmarks.video import make_clip
    from nicegan_plugin.inference import translate_arrays
    from nicegan_plugin.inference.video import translate_video
    clip = make_clip(str(tmp_path / 'c.mp4'), cat, frames=6, size=(64, 80), motion='pan')
    out = str(tmp_path / 'out' / 'c.mp4')
    result = translate_video(translator, clip, out, batch_size=4, progress=False)
    assert (result.frames, result.stopped, result.encoder) == (6, None, 'libx264')
    assert stream_facts(out) == stream_facts(clip)
    before, after = frames_of(clip), frames_of(out)
    assert [(p, tb) for p, tb, _ in after] == [(p, tb) for p, tb, _ in before]
    assert audio_packets(out) == audio_packets(clip)
    want, _ = translate_arrays(translator, [rgb for _, _, rgb in before])
    # the per-frame translations through the same 4:2:0 chroma subsampling, not compressed
    want = [av.VideoFrame.from_ndarray(w, format='rgb24').reformat(format='yuv420p')
            .to_ndarray(format='rgb24') for w in want]
    errors = [np.abs(a.astype(float) - w).mean() for (_, _, a), w in zip(after, want)]
    shifted = [np.abs(a.astype(float) - w).mean() for (_, _, a), w in zip(after[1:], want)]
    # H.264 at CRF 18 on the tiny model's noisy 64x80 frames: a few grey levels, and each
    # frame nearer its own translation than the previous frame's
    assert max(errors) < 6 and all(e < s for e, s in zip(errors[1:], shifted)), \
        (errors, shifted)


def test_native_size_and_an_exported_file(tiny, translator, cat, tmp_path):
    """Native size keeps an odd frame size (padded, cropped back) frame-exactly; an ONNX
    file translates clips like the model (its one direction, resized)."""
    from nicegan_plugin.benchmarks.video import make_clip
    from nicegan_plugin.deploy.backends import open_translator
    from nicegan_plugin.deploy.export import export_translator
    from nicegan_plugin.inference import translate_arrays
    from nicegan_plugin.inference.video import translate_video
    clip = make_clip(str(tmp_path / 'odd.mkv'), cat, frames=4, size=(70, 90), motion='pan',
                     audio=False)
    out = str(tmp_path / 'native' / 'odd.mkv')
    translate_video(translator, clip, out, native_size=True, progress=False)
    frames = [rgb for _, _, rgb in frames_of(clip)]
    want, _ = translate_arrays(translator, frames, native_size=True)
    got = [rgb for _, _, rgb in frames_of(out)]
    assert [g.shape for g in got] == [(70, 90, 3)] * 4
    assert max(np.abs(g.astype(int) - w).max() for g, w in zip(got, want)) <= 1
    onnx = str(tmp_path / 'a2b.onnx')
    export_translator(tiny[2], onnx, 'a2b', 'onnx', heatmap=False, dynamic_size=False,
                      verify=False)  # compared with PyTorch here
    out = str(tmp_path / 'onnx' / 'odd.mkv')
    result = translate_video(open_translator(onnx), clip, out, batch_size=2, progress=False)
    assert result.frames == 4
    want, _ = translate_arrays(translator, frames)
    got = [rgb for _, _, rgb in frames_of(out)]
    assert max(np.abs(g.astype(int) - w).max() for g, w in zip(got, want)) <= 1


def _peak_rss(fn) -> int:
    """Peak resident memory (bytes) of this process while ``fn`` runs: the kernel's high
    water mark, reset first (/proc/self/clear_refs)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    fn()
    with open('/proc/self/status') as f:
        return next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith('VmHWM:'))


def test_memory_does_not_grow_with_the_clip_length(translator, cat, tmp_path):
    """A clip ten times longer peaks within a few MiB of the short one, while holding
    its frames (input and output) would take 2 x 80 x 240 x 320 x 3 bytes = 37 MB."""
    from nicegan_plugin.benchmarks.video import make_clip
    from nicegan_plugin.inference.video import translate_video
    if not os.access('/proc/self/clear_refs', os.W_OK):
        pytest.skip('/proc/self/clear_refs is not writable here')
    short = make_clip(str(tmp_path / 'short.mkv'), cat, 8, (240, 320), 'pan')
    long = make_clip(str(tmp_path / 'long.mkv'), cat, 80, (240, 320), 'pan')

    def run(clip):
        return lambda: translate_video(translator, clip, str(tmp_path / 'o' / osp.basename(clip)),
                                       batch_size=4, progress=False)
    run(short)()  # first-use allocations
    peaks = {name: _peak_rss(run(clip)) for name, clip in (('short', short), ('long', long))}
    assert len(frames_of(str(tmp_path / 'o' / 'long.mkv'))) == 80
    assert peaks['long'] - peaks['short'] < 6 * 1024 ** 2, peaks


# ------------------------------------------------------------------ steady
def test_steady_generator_is_the_plain_one_at_momentum_zero_and_batch_free(translator, cat):
    from nicegan_plugin.benchmarks.video import object_frames
    from nicegan_plugin.inference.steady import SteadyTranslator
    from nicegan_plugin.utils.pixels import to_model_range
    frames = list(object_frames(cat, cat[::-1], 6, (64, 80)))
    x = to_model_range(np.stack(frames))
    plain, _ = translator.forward(x)
    zero = SteadyTranslator(translator, 0.0)
    assert np.abs(zero.forward(x)[0] - plain).max() < 1e-5
    steady = SteadyTranslator(translator, 0.8)
    together = steady.forward(x)[0]
    steady.reset()
    one_by_one = np.concatenate([steady.forward(x[i:i + 1])[0] for i in range(len(x))])
    assert np.abs(together - one_by_one).max() < 1e-5
    assert np.abs(together[0] - plain[0]).max() < 1e-5  # the averages start at frame 0
    assert np.abs(together[1:] - plain[1:]).max() > 1e-3  # and then they are averages


def test_steady_cuts_flicker_far_from_motion(translator, read_photos, tmp_path):
    """A still shot with a photo sliding across it, at native size: far from the moving
    photo, plain translation still changes the background from frame to frame (the whole
    frame's statistics move); steady statistics change it much less (measured: 0.21 ->
    0.05 grey levels at momentum 0.97). Momentum 0 measures like plain."""
    from nicegan_plugin.benchmarks.video import compare_steady, make_clip
    background, thing = read_photos('cat', 1)[0], read_photos('dog', 1)[0]
    clip = make_clip(str(tmp_path / 'object.mkv'), background, 16, (192, 192), 'object',
                     thing, audio=False)
    plain, zero, steady = compare_steady(translator, clip, str(tmp_path / 'm'), (0.0, 0.97),
                                         native_size=True, flow=False)
    assert plain['still_change_input'] < 0.1 and plain['far_fraction'] > 0.2, plain
    assert plain['far_flicker'] > 0.2, plain
    assert abs(zero['far_flicker'] - plain['far_flicker']) < 0.05, (plain, zero)
    assert steady['far_flicker'] < 0.5 * plain['far_flicker'], (plain, steady)


def test_steady_starts_afresh_at_a_cut(translator, read_photos, tmp_path):
    """Cat frames, then dog frames: with steady statistics, the first dog frame is
    translated with its own statistics (as plain translation does), not the cat's."""
    from nicegan_plugin.benchmarks.video import pan_frames, write_clip
    from nicegan_plugin.inference import translate_arrays
    from nicegan_plugin.inference.steady import SteadyTranslator, is_cut
    from nicegan_plugin.inference.video import translate_video
    cat, dog = read_photos('cat', 1)[0], read_photos('dog', 1)[0]
    frames = list(pan_frames(cat, 4, (64, 80))) + list(pan_frames(dog, 4, (64, 80)))
    assert [is_cut(a, b) for a, b in zip(frames, frames[1:])] == [False] * 3 + [True] + \
        [False] * 3
    clip = write_clip(str(tmp_path / 'cut.mkv'), frames, audio=False)
    logged = []
    out = str(tmp_path / 'out.mkv')
    translate_video(SteadyTranslator(translator, 0.9), clip, out, batch_size=3,
                    progress=False, log=logged.append)
    assert any('a cut at frame 4' in line for line in logged), logged
    got = [rgb for _, _, rgb in frames_of(out)]
    plain, _ = translate_arrays(translator, frames)
    for i in (0, 4):  # the first frame of each shot: its own statistics
        assert np.abs(got[i].astype(int) - plain[i]).max() <= 1, i
    assert np.abs(got[5].astype(int) - plain[5]).max() > 1  # then averages again


def test_steady_refuses_what_it_cannot_hold(tiny, translator, cat, tmp_path):
    from nicegan_plugin.benchmarks.video import make_clip
    from nicegan_plugin.deploy.backends import open_translator
    from nicegan_plugin.deploy.export import export_translator
    from nicegan_plugin.inference.steady import SteadyTranslator
    from nicegan_plugin.inference.video import translate_video
    with pytest.raises(ValueError, match=r'in \[0, 1\)'):
        SteadyTranslator(translator, 1.0)
    onnx = str(tmp_path / 'a2b.onnx')
    export_translator(tiny[2], onnx, 'a2b', 'onnx', heatmap=False, verify=False)
    with pytest.raises(ValueError, match='needs a NICE-GAN checkpoint run in PyTorch'):
        SteadyTranslator(open_translator(onnx), 0.9)
    clip = make_clip(str(tmp_path / 'c.mkv'), cat, 2, (64, 64), audio=False)
    with pytest.raises(ValueError, match='steady translation runs whole frames'):
        translate_video(SteadyTranslator(translator), clip, str(tmp_path / 'o.mkv'),
                        native_size=True, tile=64, progress=False)


# ------------------------------------------------------------------ reading
def test_reader_says_where_a_clip_ends_early_and_why_it_cannot_open(cat, tmp_path):
    from nicegan_plugin.benchmarks.video import make_clip
    from nicegan_plugin.inference.video_io import ClipReader, Frame, VideoReadError
    clip = make_clip(str(tmp_path / 'c.mkv'), cat, 20, (96, 128), audio=False)
    data = open(clip, 'rb').read()
    cut = tmp_path / 'cut.mkv'
    cut.write_bytes(data[:len(data) // 2])
    with ClipReader(str(cut)) as reader:
        assert reader.info.frames == 20
        n = sum(isinstance(item, Frame) for item in reader)
    assert 0 < n < 20
    assert reader.stopped == (f'the file ends at frame {n} (t = {n / 25:.3f} s), before the '
                              '20 frames its header declares (truncated?)')
    for name, content, cause in (('missing.mkv', None, 'file not found'),
                                 ('empty.mp4', b'', 'not a readable video')):
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(VideoReadError, match=f'^{path}: {cause}'):
            ClipReader(str(path))
    with ClipReader(clip) as reader:
        assert reader.info.time_base == Fraction(1, 1000)  # Matroska's unit


def test_encoder_follows_the_codec_not_the_decoder(cat, tmp_path):
    """AV1 is decoded by libdav1d and encoded by SVT-AV1: the output stays AV1; a codec
    this build cannot encode falls back by container, and says so."""
    from nicegan_plugin.benchmarks.video import pan_frames, write_clip
    from nicegan_plugin.inference.video_io import ClipInfo, ClipReader, choose_encoder
    clip = write_clip(str(tmp_path / 'av1.mp4'), pan_frames(cat, 2, (64, 64)),
                      codec='libsvtav1', audio=False)
    with ClipReader(clip) as reader:
        assert reader.info.codec == 'av1'
        assert choose_encoder(reader.info, 'out.mp4') == ('libsvtav1', 'yuv420p', None)
    wmv = ClipInfo('old.wmv', 64, 48, 'wmv3', 'yuv420p', Fraction(1, 1000), Fraction(25),
                   10, 0.4)
    assert choose_encoder(wmv, 'out/old.wmv') == (
        'wmv2', 'yuv420p', 'no wmv3 encoder in this PyAV build: writing wmv2 (Windows Media '
        'Video 8)')

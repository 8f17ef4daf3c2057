"""Video harness (``tools/measure_video.py``, the tests): clips made from photos, flicker
metrics, and plain vs steady translation of a clip measured side by side.

Clips (:func:`make_clip`): a real photo filmed by a virtual camera, written with PyAV,
with a synthetic audio track (a 440 Hz tone):

- ``'pan'``: a slow pan and zoom over the photo (every pixel moves, sub-pixel steps);
- ``'object'``: a static shot of one photo with a second photo sliding across it (the
  background stays exactly still while an object moves, as on a tripod).

Flicker (:class:`FlickerMeter`, on an input clip and its translation, frame pairs t-1, t):

- **still-region flicker**: the mean absolute change of the output, in grey levels
  (0-255, all three channels), over the pixels whose input changed by at most
  :data:`STILL_THRESHOLD` grey levels in every channel. Near a moving object part of
  this is the network's receptive field seeing the object (local context, which only a
  flow-guided method could hold); so it is also reported over the **far still** pixels,
  those with no changed pixel within :data:`FAR_RADIUS` px: there only the whole-frame
  statistics can move the output, and a translator with steady statistics scores ~0.
- **warping error**: optical flow from the input frame t to t-1 (OpenCV Farneback on
  the grey input), the output frame t-1 warped along it, and the mean absolute
  difference to the output frame t over the pixels whose flow passes a forward-backward
  check (Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018, without
  their occlusion masks). The input's own warping error, the flow's floor, is reported
  beside it.
"""
import os.path as osp
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..inference.steady import SteadyTranslator
from ..inference.translator import Translator
from ..inference.video import translate_video
from ..inference.video_io import ClipReader, Frame
from ..utils.fileio import atomic_path

#: a pixel is "still" when its input changed by at most this many grey levels (0-255)
STILL_THRESHOLD = 2
#: a still pixel is "far" when no pixel within this many pixels (a square) changed
FAR_RADIUS = 32
#: forward-backward flow check: |f(x) + b(x + f(x))| <= A * (|f|^2 + |b|^2) + B (pixels)
FLOW_CHECK = (0.01, 0.5)
#: the synthetic audio track: a tone of this frequency at this sample rate
TONE_HZ, AUDIO_RATE = 440.0, 16000

Log = Callable[[str], None]


# ------------------------------------------------------------------------- clips
def pan_frames(photo: np.ndarray, frames: int, size: Tuple[int, int],
               zoom: float = 1.25) -> Iterator[np.ndarray]:
    """A camera of ``size`` (height, width) panning left to right over ``photo`` (RGB)
    while zooming in from 1 to ``zoom`` (bilinear resampling, sub-pixel steps)."""
    import cv2
    ph, pw = photo.shape[:2]
    h, w = size
    base = 0.8 * min(ph / h, pw / w)  # photo pixels per frame pixel at zoom 1
    for t in range(frames):
        a = t / max(frames - 1, 1)
        s = base / (1 + (zoom - 1) * a)
        margin_x = (pw - w * s) / 2
        cx = pw / 2 + (a - 0.5) * margin_x  # half the free room each side
        cy = ph / 2
        m = np.array([[s, 0, cx - w * s / 2], [0, s, cy - h * s / 2]], np.float64)
        yield cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT)


def object_frames(background: np.ndarray, thing: np.ndarray, frames: int,
                  size: Tuple[int, int], scale: float = 0.4) -> Iterator[np.ndarray]:
    """A still shot of ``background`` (resized to ``size``) with ``thing`` (resized to
    ``scale`` of the frame's height) sliding from the left edge to the right one, a
    whole number of pixels per frame, so every background pixel it does not cover
    stays exactly the same."""
    from ..utils.image_io import resize_rgb
    h, w = size
    still = resize_rgb(background, size)
    th = max(8, int(round(h * scale)))
    tw = max(8, int(round(th * thing.shape[1] / thing.shape[0])))
    patch = resize_rgb(thing, (th, tw))
    top = (h - th) // 2
    for t in range(frames):
        frame = still.copy()
        left = int(round(t * (w - tw) / max(frames - 1, 1)))
        frame[top:top + th, left:left + tw] = patch
        yield frame


def write_clip(path: str, frames: Sequence[np.ndarray], fps: int = 25,
               codec: Optional[str] = None, pix_fmt: Optional[str] = None,
               audio: bool = True) -> str:
    """Write RGB frames (an iterable) as a clip with a tone as audio, atomically.

    Default codec by extension: ``.mkv`` FFV1 (``bgr0``: lossless RGB) with FLAC
    audio, else H.264 (yuv420p, CRF 18) with AAC audio.
    """
    import av
    lossless = osp.splitext(path)[1].lower() == '.mkv'
    codec = codec or ('ffv1' if lossless else 'libx264')
    pix_fmt = pix_fmt or ('bgr0' if codec == 'ffv1' else 'yuv420p')
    audio_codec = 'flac' if lossless else 'aac'
    samples_per_frame = Fraction(AUDIO_RATE, fps)
    with atomic_path(path) as tmp, av.open(tmp, 'w') as out:
        video = out.add_stream(codec, rate=fps,
                               options={'crf': '18'} if codec == 'libx264' else {})
        video.pix_fmt = pix_fmt
        sound = None
        if audio:
            sound = out.add_stream(audio_codec, rate=AUDIO_RATE, layout='mono')
        written = 0  # audio samples
        for i, rgb in enumerate(frames):
            if i == 0:
                video.height, video.width = rgb.shape[:2]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format='rgb24')
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
            if sound is not None:
                end = int((i + 1) * samples_per_frame)
                tone = np.sin(2 * np.pi * TONE_HZ * np.arange(written, end) / AUDIO_RATE)
                chunk = av.AudioFrame.from_ndarray(
                    (tone * 8000).astype(np.int16)[None], format='s16', layout='mono')
                chunk.sample_rate, chunk.pts = AUDIO_RATE, written
                written = end
                out.mux(sound.encode(chunk))
        out.mux(video.encode(None))
        if sound is not None:
            out.mux(sound.encode(None))
    return path


def make_clip(path: str, photo: np.ndarray, frames: int = 25, size: Tuple[int, int] = (128, 160),
              motion: str = 'pan', other: Optional[np.ndarray] = None, fps: int = 25,
              audio: bool = True) -> str:
    """A clip of ``frames`` frames of ``size`` (height, width) made from ``photo``
    (``motion`` ``'pan'`` or ``'object'``, the latter sliding ``other`` across it), with
    a tone as audio; see :func:`write_clip` for the codecs."""
    if motion == 'pan':
        source = pan_frames(photo, frames, size)
    elif motion == 'object':
        if other is None:
            raise ValueError("motion 'object' needs a second photo (other=...)")
        source = object_frames(photo, other, frames, size)
    else:
        raise ValueError(f"unknown motion {motion!r}; use 'pan' or 'object'")
    return write_clip(path, source, fps, audio=audio)


def clip_frames(path: str) -> Iterator[np.ndarray]:
    """The RGB frames of a clip, one at a time."""
    with ClipReader(path) as reader:
        for item in reader:
            if isinstance(item, Frame):
                yield item.rgb


# ----------------------------------------------------------------------- flicker
def still_mask(previous: np.ndarray, current: np.ndarray,
               threshold: int = STILL_THRESHOLD) -> np.ndarray:
    """(H, W) bool: pixels whose RGB values changed by at most ``threshold`` in every
    channel between two uint8 frames."""
    change = np.abs(current.astype(np.int16) - previous.astype(np.int16)).max(axis=2)
    return change <= threshold


def far_mask(still: np.ndarray, radius: int = FAR_RADIUS) -> np.ndarray:
    """(H, W) bool: still pixels with no changed pixel within ``radius`` px (a square)."""
    import cv2
    moved = (~still).astype(np.uint8)
    near = cv2.dilate(moved, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))
    return near == 0


def flow_warp(previous: np.ndarray, current: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(map (H, W, 2) float32, valid (H, W) bool): for each pixel of ``current`` where
    it came from in ``previous`` (Farneback flow on grey frames), and whether that flow
    passes the forward-backward check (:data:`FLOW_CHECK`) and stays inside the frame."""
    import cv2
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (previous, current)]
    args = (None, 0.5, 3, 15, 3, 5, 1.2, 0)
    back = cv2.calcOpticalFlowFarneback(grey[1], grey[0], *args)   # current -> previous
    fwd = cv2.calcOpticalFlowFarneback(grey[0], grey[1], *args)    # previous -> current
    h, w = grey[0].shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    where = np.dstack([xs + back[..., 0], ys + back[..., 1]])
    fwd_there = cv2.remap(fwd, where[..., 0], where[..., 1], cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    loop = back + fwd_there
    a, b = FLOW_CHECK
    valid = (loop ** 2).sum(2) <= a * ((back ** 2).sum(2) + (fwd_there ** 2).sum(2)) + b
    inside = ((where[..., 0] >= 0) & (where[..., 0] <= w - 1) & (where[..., 1] >= 0)
              & (where[..., 1] <= h - 1))
    return where, valid & inside


def warp(image: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``where`` (bilinear), float32."""
    import cv2
    return cv2.remap(image.astype(np.float32), where[..., 0], where[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


@dataclass
class Flicker:
    """Flicker of one translated clip (see the module docstring); grey levels 0-255."""
    pairs: int
    still_fraction: float       # share of pixels that are still, over all pairs
    still_flicker: float        # output change on still pixels
    still_change_input: float   # input change on the same pixels (<= STILL_THRESHOLD)
    far_fraction: float         # share of pixels that are far still pixels
    far_flicker: float          # output change on far still pixels
    warp_error: float           # output vs the warped previous output, valid-flow pixels
    warp_error_input: float     # the same for the input: the flow's floor
    flow_fraction: float        # share of pixels with a valid flow


class FlickerMeter:
    """Accumulates the flicker metrics over consecutive (input, output) frame pairs.

    Args:
        flow: also compute the warping error (OpenCV Farneback; ~10 ms per pair at
            160x128).
    """

    def __init__(self, flow: bool = True) -> None:
        self.flow = flow
        self.previous: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self.sums = dict(still=0.0, still_in=0.0, still_n=0, far=0.0, far_n=0, warp=0.0,
                         warp_in=0.0, warp_n=0, pixels=0, pairs=0)

    def add(self, source: np.ndarray, output: np.ndarray) -> None:
        """The next frame of the input clip and of its translation (RGB uint8, same
        size)."""
        if source.shape != output.shape:
            raise ValueError(f'input frame {source.shape} and output frame {output.shape} '
                             'differ in size: measure outputs resized back to the input')
        if self.previous is not None:
            s = self.sums
            prev_in, prev_out = self.previous
            still = still_mask(prev_in, source)
            d_out = np.abs(output.astype(np.int16) - prev_out.astype(np.int16))
            d_in = np.abs(source.astype(np.int16) - prev_in.astype(np.int16))
            s['still'] += float(d_out[still].sum())
            s['still_in'] += float(d_in[still].sum())
            s['still_n'] += int(still.sum()) * 3
            far = far_mask(still)
            s['far'] += float(d_out[far].sum())
            s['far_n'] += int(far.sum()) * 3
            s['pixels'] += still.size
            s['pairs'] += 1
            if self.flow:
                where, valid = flow_warp(prev_in, source)
                s['warp'] += float(np.abs(output - warp(prev_out, where))[valid].sum())
                s['warp_in'] += float(np.abs(source - warp(prev_in, where))[valid].sum())
                s['warp_n'] += int(valid.sum()) * 3
        self.previous = (source, output)

    def result(self) -> Flicker:
        s = self.sums

        def mean(key: str, count: str) -> float:
            return s[key] / s[count] if s[count] else float('nan')

        def share(count: str) -> float:
            return s[count] / 3 / s['pixels'] if s['pixels'] else 0.0

        return Flicker(s['pairs'], share('still_n'), mean('still', 'still_n'),
                       mean('still_in', 'still_n'), share('far_n'), mean('far', 'far_n'),
                       mean('warp', 'warp_n'), mean('warp_in', 'warp_n'), share('warp_n'))


def measure_flicker(source: str, output: str, flow: bool = True) -> Flicker:
    """The flicker metrics of the clip ``output`` translated from the clip ``source``."""
    meter = FlickerMeter(flow)
    count = 0
    for a, b in zip(clip_frames(source), clip_frames(output)):
        meter.add(a, b)
        count += 1
    if count < 2:
        raise ValueError(f'{output}: flicker needs at least 2 frames, got {count}')
    return meter.result()


# ------------------------------------------------------------------- comparison
def lossless_copy(clip: str, out: str) -> str:
    """``clip``'s frames re-encoded as FFV1 RGB in ``out`` (.mkv; no audio): the
    translations of a lossless clip are written losslessly, so that compression noise
    is not measured as flicker."""
    return write_clip(out, clip_frames(clip), _clip_rate(clip), audio=False)


def _clip_rate(clip: str) -> int:
    with ClipReader(clip) as reader:
        return int(round(reader.info.rate)) if reader.info.rate else 25


def compare_steady(translator: Translator, clip: str, out_dir: str,
                   momenta: Sequence[float] = (0.9,), batch_size: int = 1,
                   keep_size: bool = True, native_size: bool = False, flow: bool = True,
                   log: Optional[Log] = None) -> List[Dict]:
    """Translate ``clip`` plainly and with each steady momentum (PyTorch NICE-GAN
    translators), then measure each output: rows of ``mode``, ``frames``, ``fps`` (the
    whole clip loop: decoding, translation, encoding) and the :class:`Flicker` fields.
    A clip in a lossy codec is first copied as FFV1 (:func:`lossless_copy`). Outputs go
    to ``out_dir/<mode>/<clip name>``."""
    with ClipReader(clip) as reader:
        lossless = reader.info.lossless
    if not lossless:
        stem = osp.splitext(osp.basename(clip))[0]
        clip = lossless_copy(clip, osp.join(out_dir, 'input', stem + '.mkv'))
        if log:
            log(f'measuring on a lossless copy of the clip: {clip}')
    rows = []
    modes: List[Tuple[str, Translator]] = [('plain', translator)]
    modes += [(f'steady {m:g}', SteadyTranslator(translator, m)) for m in momenta]
    for mode, t in modes:
        out = osp.join(out_dir, mode.replace(' ', '_'), osp.basename(clip))
        result = translate_video(t, clip, out, batch_size, keep_size, native_size,
                                 progress=False)
        flicker = measure_flicker(clip, out, flow)
        row = dict(mode=mode, backend=t.name, frames=result.frames, fps=result.fps,
                   **asdict(flicker))
        if log:
            log(format_row(row))
        rows.append(row)
    return rows


def format_row(row: Dict) -> str:
    return (f'{row["mode"]}: {row["frames"]} frames at {row["fps"]:.2f} frames/s; still-'
            f'region flicker {row["still_flicker"]:.3f} ({100 * row["still_fraction"]:.0f}% '
            f'of pixels; input {row["still_change_input"]:.3f}), far {row["far_flicker"]:.3f} '
            f'({100 * row["far_fraction"]:.0f}%); warping error {row["warp_error"]:.3f} '
            f'(input {row["warp_error_input"]:.3f})')


def markdown_table(rows: List[Dict]) -> str:
    """The rows of :func:`compare_steady` as a Markdown table."""
    lines = ['| mode | frames/s | still-region flicker | far still | warping error |',
             '|---|---|---|---|---|']
    for r in rows:
        lines.append(f'| {r["mode"]} | {r["fps"]:.2f} | {r["still_flicker"]:.3f} | '
                     f'{r["far_flicker"]:.3f} | {r["warp_error"]:.3f} |')
    r = rows[0]
    lines.append(f'| *input* | | {r["still_change_input"]:.3f} | <= {STILL_THRESHOLD} | '
                 f'{r["warp_error_input"]:.3f} |')
    return '\n'.join(lines)


# ------------------------------------------------------------------------ picture
def frame_strip(clips: Sequence[str], labels: Sequence[str], frames: Sequence[int],
                out: str, height: int = 128) -> str:
    """A PNG of the given frames (columns) of each clip (rows, same frame size), each
    row labelled: a clip and its translations side by side, for the docs."""
    from PIL import Image, ImageDraw

    from ..utils.image_io import resize_rgb, save_rgb
    wanted = set(frames)
    rows = []
    for path in clips:
        picked = {i: f for i, f in enumerate(clip_frames(path)) if i in wanted}
        missing = wanted - set(picked)
        if missing:
            raise ValueError(f'{path} has no frame {min(missing)}')
        rows.append([picked[i] for i in frames])
    h0, w0 = rows[0][0].shape[:2]
    width = int(round(w0 * height / h0))
    label_w, gap = 92, 4
    canvas = Image.new('RGB', (label_w + len(frames) * (width + gap),
                               len(rows) * (height + gap) + 16), 'white')
    draw = ImageDraw.Draw(canvas)
    for c, index in enumerate(frames):
        draw.text((label_w + c * (width + gap) + 2, 2), f'frame {index}', fill='black')
    for r, (row, label) in enumerate(zip(rows, labels)):
        top = 16 + r * (height + gap)
        draw.text((4, top + height // 2 - 6), label, fill='black')
        for c, frame in enumerate(row):
            canvas.paste(Image.fromarray(resize_rgb(frame, (height, width))),
                         (label_w + c * (width + gap), top))
    with atomic_path(out) as tmp:
        save_rgb(tmp, np.asarray(canvas))
    return out

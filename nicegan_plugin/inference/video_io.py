"""Reading and writing video files with PyAV, frame by frame (no whole clip in memory).

- :class:`ClipReader`: opens a file, its first video stream and its audio streams, and
  yields what the file holds in file order: decoded video frames (RGB uint8 with their
  timestamps) and audio packets (untouched, for a stream copy). Reading stops at the
  first frame that cannot be decoded; :attr:`ClipReader.stopped` says where and why, and
  a file that ends before its declared duration (a truncated download) is said too.
- :class:`ClipWriter`: writes translated frames with the input's timestamps, frame rate
  and size class into a container of the same kind, with the input's video codec where
  an encoder for it exists (:func:`choose_encoder`), and copies audio packets unchanged.
- :func:`collect_videos`, :data:`VIDEO_EXTENSIONS`: which files are videos.

Every error is one line naming the file and the cause (:class:`VideoReadError`,
:class:`VideoWriteError`). Translating is not done here: :mod:`.video` runs each frame
through the one translation path.
"""
import os.path as osp
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

from ..utils.image_io import walk_files

#: extensions treated as videos (case-insensitive); any container FFmpeg reads works
#: when named as a single file
VIDEO_EXTENSIONS = ('.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.mpg', '.mpeg', '.ts',
                    '.mts', '.m2ts', '.flv', '.wmv', '.ogv', '.3gp')
#: intra-frame lossless codecs: an input in one of them is written with the same codec,
#: so the output holds exactly the translated pixels
LOSSLESS_CODECS = ('ffv1', 'ffvhuff', 'huffyuv', 'utvideo', 'magicyuv', 'png', 'qtrle',
                   'rawvideo')
#: encoder used when the input's codec has none in this PyAV build, by output extension
FALLBACK_ENCODERS = {'.webm': 'libvpx-vp9', '.ogv': 'libvpx', '.avi': 'mpeg4',
                     '.wmv': 'wmv2', '.flv': 'flv', '.mpg': 'mpeg2video',
                     '.mpeg': 'mpeg2video'}
#: everything else falls back to H.264 (libx264), which every other listed container holds
DEFAULT_ENCODER = 'libx264'
#: constant-quality setting of the x264/x265 encoders (18: visually lossless)
X26X_CRF = '18'

Log = Callable[[str], None]


class VideoReadError(OSError):
    """A video file that cannot be opened or decoded (one-line message with the file)."""


class VideoWriteError(OSError):
    """An output video that cannot be written (one-line message with the file)."""


def is_video_file(name: str) -> bool:
    """Whether ``name`` has one of :data:`VIDEO_EXTENSIONS` (case-insensitive)."""
    return name.lower().endswith(VIDEO_EXTENSIONS)


def collect_videos(input_path: str, recursive: bool = True) -> List[Tuple[str, str]]:
    """``(path, relative path)`` of a single video file, or of every video file under a
    folder (sorted; extensions in :data:`VIDEO_EXTENSIONS`); [] for an image file."""
    if osp.isfile(input_path):
        return [(input_path, osp.basename(input_path))] if is_video_file(input_path) else []
    return walk_files(input_path, is_video_file, recursive)


def _cause(err: BaseException) -> str:
    """FFmpeg's reason without PyAV's errno prefix and file repetition."""
    import av
    if isinstance(err, av.error.FFmpegError) and err.strerror:
        text = err.strerror
        where = err.filename if isinstance(err.filename, str) else ''
        if where and not osp.exists(where):  # the failing call, e.g. avcodec_send_packet()
            text += f' ({where})'
        return text
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


# ---------------------------------------------------------------------------- reading
@dataclass
class ClipInfo:
    """What a clip's header says: first video stream, its audio streams.

    ``frames``: the declared frame count, else duration x frame rate rounded (None when
    neither is known); ``rate``: the average frame rate; ``time_base``: the unit of the
    frames' timestamps.
    """
    path: str
    width: int
    height: int
    codec: str
    pix_fmt: str
    time_base: Fraction
    rate: Optional[Fraction]
    frames: Optional[int]
    duration: Optional[float]
    audio: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)  # streams not carried over

    @property
    def lossless(self) -> bool:
        return self.codec in LOSSLESS_CODECS

    def describe(self) -> str:
        rate = f'{float(self.rate):.3g} fps' if self.rate else 'variable rate'
        frames = f'{self.frames} frames' if self.frames is not None else 'unknown length'
        audio = f', audio {"+".join(self.audio)}' if self.audio else ', no audio'
        return (f'{self.width}x{self.height} {self.codec} ({self.pix_fmt}), {rate}, '
                f'{frames}{audio}')


@dataclass
class Frame:
    """One decoded video frame: RGB uint8 (H, W, 3), its index in the clip, its
    timestamp in the stream's ``time_base`` (None when the file has none)."""
    index: int
    pts: Optional[int]
    rgb: np.ndarray


class ClipReader:
    """A video file opened for reading (a context manager; see the module docstring).

    Iterating yields :class:`Frame` objects and ``av.Packet`` objects of the audio
    streams in file order. Raises :class:`VideoReadError` at opening when the file is
    not a readable container, has no video stream, or its video codec has no decoder.
    """

    def __init__(self, path: str) -> None:
        import av
        self.path = path
        self.stopped: Optional[str] = None
        self.frames_read = 0
        try:
            self.container = av.open(path, metadata_errors='ignore')
        except FileNotFoundError:
            raise VideoReadError(f'{path}: file not found') from None
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise VideoReadError(f'{path}: not a readable video ({_cause(err)})') from None
        try:
            self.info = self._probe()
        except BaseException:
            self.container.close()
            raise

    def _probe(self) -> ClipInfo:
        c = self.container
        if not c.streams.video:
            kinds = sorted({s.type for s in c.streams}) or ['no streams']
            raise VideoReadError(f'{self.path}: no video stream (it holds '
                                 f'{", ".join(kinds)})')
        self.video = c.streams.video[0]
        ctx = self.video.codec_context
        if ctx is None:
            import av
            raise VideoReadError(
                f'{self.path}: its video codec has no decoder in this FFmpeg build (PyAV '
                f'{av.__version__}); convert the file, e.g. ffmpeg -i IN -c:v ffv1 OUT.mkv')
        self.audio = [s for s in c.streams.audio if s.codec_context is not None]
        dropped = [f'{s.type} stream {s.index}' for s in c.streams
                   if s is not self.video and s not in self.audio]
        tb = self.video.time_base or Fraction(1, 1000)
        rate = self.video.average_rate or self.video.guessed_rate or None
        duration = None
        if self.video.duration:
            duration = float(self.video.duration * tb)
        elif c.duration:
            duration = c.duration / 1e6  # AV_TIME_BASE
        frames = self.video.frames or None
        if frames is None and duration and rate:
            frames = int(round(duration * float(rate)))
        # the codec's own name (``av1``), not its decoder's (``libdav1d``)
        codec = ctx.codec.canonical_name if ctx.codec is not None else ctx.name
        return ClipInfo(self.path, ctx.width, ctx.height, codec,
                        ctx.pix_fmt or 'unknown', Fraction(tb), Fraction(rate) if rate else None,
                        frames, duration, [s.codec_context.name for s in self.audio], dropped)

    def __iter__(self) -> Iterator[Union[Frame, 'object']]:
        import av
        streams = [self.video, *self.audio]
        last_pts: Optional[int] = None
        try:
            for packet in self.container.demux(streams):
                if packet.stream is not self.video:
                    if packet.dts is not None:  # the demuxer's final empty packets have none
                        yield packet
                    continue
                for frame in packet.decode():
                    rgb = frame.to_ndarray(format='rgb24')
                    last_pts = frame.pts
                    yield Frame(self.frames_read, frame.pts, rgb)
                    self.frames_read += 1
        except av.error.FFmpegError as err:
            self.stopped = (f'frame {self.frames_read}{self._time(last_pts, 1)} could not '
                            f'be decoded: {_cause(err)}')
            return
        expected = self.info.frames
        if expected and self.frames_read < expected:
            self.stopped = (f'the file ends at frame {self.frames_read}'
                            f'{self._time(last_pts, 1)}, before the {expected} frames its '
                            'header declares (truncated?)')

    def _time(self, pts: Optional[int], step: int) -> str:
        """' (t = 1.234 s)' of the frame after the one at ``pts``, or ''."""
        rate = self.info.rate
        if pts is None or not rate:
            return ''
        return f' (t = {float(pts * self.info.time_base) + step / float(rate):.3f} s)'

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> 'ClipReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------- writing
def choose_encoder(info: ClipInfo, out_path: str) -> Tuple[str, str, Optional[str]]:
    """(encoder name, pixel format, note) for writing ``info``'s clip as ``out_path``.

    The input's codec when this PyAV build has an encoder for it (``h264`` -> libx264,
    ``ffv1`` -> ffv1, ...), with the input's pixel format when the encoder takes it;
    otherwise :data:`FALLBACK_ENCODERS` by extension or :data:`DEFAULT_ENCODER`, and the
    note says so (None when the input's codec is kept).
    """
    import av
    ext = osp.splitext(out_path)[1].lower()
    note = None
    try:
        codec = av.Codec(info.codec, 'w')
    except Exception:  # noqa: BLE001 - PyAV raises several kinds for "no encoder"
        codec = av.Codec(FALLBACK_ENCODERS.get(ext, DEFAULT_ENCODER), 'w')
        note = (f'no {info.codec} encoder in this PyAV build: writing {codec.name} '
                f'({codec.long_name})')
    formats = [f.name for f in (codec.video_formats or [])]
    pix_fmt = info.pix_fmt if info.pix_fmt in formats else None
    if pix_fmt is None:
        odd = info.width % 2 or info.height % 2
        pix_fmt = next((f for f in (('yuv444p',) if odd else ()) + ('yuv420p',)
                        if f in formats), formats[0] if formats else 'yuv420p')
    return codec.name, pix_fmt, note


class ClipWriter:
    """A translated clip written to ``path`` (opened at once; see the module docstring).

    Args:
        path: the output file (its extension picks the container).
        info: the input clip's :class:`ClipInfo` (codec, timestamps, rate).
        size: (height, width) of the frames that will be written.
        audio: the input's audio streams to copy (their packets go to :meth:`copy`).
        log: receives the note when the codec differs from the input's.
    """

    def __init__(self, path: str, info: ClipInfo, size: Tuple[int, int],
                 audio: List = (), log: Optional[Log] = None) -> None:
        import av
        self.path = path
        self.frames = 0
        self.info = info
        self.end: Optional[Fraction] = None  # end time (s) of the last written frame
        self._queue: List[Tuple[Fraction, object]] = []  # audio packets not yet muxed
        self.encoder, pix_fmt, note = choose_encoder(info, path)
        if note and log:
            log(f'{info.path}: {note}')
        try:
            self.container = av.open(path, 'w')
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise VideoWriteError(f'{path}: cannot write ({_cause(err)})') from None
        try:
            self.stream = self.container.add_stream(self.encoder, rate=info.rate,
                                                    options=self._options())
            self.stream.height, self.stream.width = size
            self.stream.pix_fmt = pix_fmt
            self.stream.time_base = info.time_base
            self.stream.codec_context.time_base = info.time_base
            self.audio: Dict[int, object] = {
                s.index: self.container.add_stream_from_template(s) for s in audio}
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self.container.close()
            raise VideoWriteError(f'{path}: cannot write {self.encoder} video '
                                  f'({_cause(err)})') from None

    def _options(self) -> Dict[str, str]:
        if self.encoder in ('libx264', 'libx264rgb', 'libx265'):
            return {'crf': X26X_CRF}
        return {}

    def write(self, rgb: np.ndarray, pts: Optional[int]) -> None:
        """Encode one RGB uint8 frame with timestamp ``pts`` (stream ``time_base``);
        None: the frame's index at the clip's rate."""
        import av
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format='rgb24')
        if pts is None and self.info.rate:
            pts = int(round(self.frames / (self.info.rate * self.info.time_base)))
        frame.pts = pts
        frame.time_base = self.info.time_base
        self.container.mux(self.stream.encode(frame))
        self.frames += 1
        if pts is not None:
            step = 1 / self.info.rate if self.info.rate else Fraction(0)
            self.end = pts * self.info.time_base + step
            self._mux_audio(self.end)

    def copy(self, packet) -> None:
        """Queue an input audio packet; it is muxed unchanged (bytes and timestamps) once
        the video has reached its time, so that a clip cut short by a broken frame gets
        no audio past its last frame."""
        stream = self.audio.get(packet.stream.index)
        if stream is not None:
            start = (packet.pts if packet.pts is not None else packet.dts) * packet.time_base
            packet.stream = stream
            self._queue.append((start, packet))
            if self.end is not None:
                self._mux_audio(self.end)

    def _mux_audio(self, until: Optional[Fraction]) -> None:
        """Mux the queued audio packets that start before ``until`` (None: all)."""
        keep = []
        for start, packet in self._queue:
            if until is None or start < until:
                self.container.mux(packet)
            else:
                keep.append((start, packet))
        self._queue = keep

    def abort(self) -> None:
        """Close the file without finishing it (an error elsewhere; the caller removes
        it)."""
        self._queue = []
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the error being handled matters, not this one
            pass

    def close(self, complete: bool = True) -> None:
        """Flush the encoder and finish the file (a file with no frame has no header).
        ``complete``: the whole input was read, so all its audio goes in; otherwise only
        the audio that starts before the end of the last frame."""
        try:
            if self.frames:
                self.container.mux(self.stream.encode(None))
                self._mux_audio(None if complete else self.end)
        finally:
            self._queue = []
            self.container.close()

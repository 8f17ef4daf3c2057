"""Translating videos: every frame through the one translation path, streamed.

A clip is decoded frame by frame (:class:`~.video_io.ClipReader`), ``batch_size`` frames
at a time go through :func:`~.pipeline.translate_arrays` with the options an image gets
(resized to the training size and back, or native size, tiled, a memory budget), and
the translations are encoded as they come (:class:`~.video_io.ClipWriter`) with the
input's timestamps, frame rate and codec, the audio streams copied unchanged. Memory
does not grow with the clip's length: at most one batch of frames is held.

The output is written under a temporary name in the output folder
(:func:`nicegan_plugin.utils.fileio.atomic_path`) and renamed into place when the clip is
done, so no reader ever sees half a file. When a frame of the input cannot be decoded
(or the file ends before its declared length), the frames before it are translated and
the output is finished and renamed into place as usual; the result's ``stopped`` (and
the log) says where and why. An error of the model or the encoder leaves no output.

A :class:`~.steady.SteadyTranslator` starts every clip, and every shot after a cut
(:func:`~.steady.is_cut`), from fresh running averages.

Public: :func:`translate_video` (one clip), :func:`translate_videos` (a file or a folder
tree), :func:`check_output_folder`, :class:`ClipResult`, :class:`VideoReport`.
"""
import os
import os.path as osp
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Set, Tuple

from ..utils.fileio import atomic_path
from .pipeline import translate_arrays
from .steady import SteadyTranslator, is_cut
from .translator import Translator
from .video_io import (
    ClipReader,
    ClipWriter,
    Frame,
    VideoReadError,
    VideoWriteError,
    collect_videos,
)

Log = Callable[[str], None]


@dataclass
class ClipResult:
    """One translated clip: frames written, why reading stopped early (None: the whole
    clip), the encoder used, the wall time and the frames per second of the whole loop
    (decoding, translation, encoding)."""
    source: str
    output: str
    frames: int
    stopped: Optional[str]
    encoder: str
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float('nan')


@dataclass
class VideoReport:
    """What :func:`translate_videos` did: the clips written (some cut short by a broken
    frame: ``stopped``) and the inputs skipped, each with its one-line reason."""
    clips: List[ClipResult] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)  # (input, reason)

    @property
    def outputs(self) -> List[str]:
        return [c.output for c in self.clips]

    def summary(self) -> str:
        frames = sum(c.frames for c in self.clips)
        lines = [f'translated {len(self.clips)} video(s) ({frames} frames), skipped '
                 f'{len(self.failed)}']
        lines += [f'  {c.source}: stopped early, {c.stopped}; the {c.frames} frames before '
                  f'are in {c.output}' for c in self.clips if c.stopped]
        lines += [f'  skipped {path}: {reason}' for path, reason in self.failed]
        return '\n'.join(lines)


def _once(log: Optional[Log]) -> Optional[Log]:
    """``log`` that passes each distinct line once (a per-frame choice, e.g. whole or
    tiled under ``--max-memory``, is the same for every frame of a clip)."""
    if log is None:
        return None
    seen: Set[str] = set()

    def say(line: str) -> None:
        if line not in seen:
            seen.add(line)
            log(line)
    return say


def check_output_folder(folder: str) -> None:
    """VideoWriteError (one line) unless files can be created in ``folder`` (made if
    missing)."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise VideoWriteError(f'{folder}: cannot write the output folder '
                              f'({err.strerror or err})') from None


def translate_video(translator: Translator, source: str, output: str, batch_size: int = 1,
                    keep_size: bool = True, native_size: bool = False,
                    tile: Optional[int] = None, max_memory: Optional[int] = None,
                    progress: bool = True, log: Optional[Log] = None) -> ClipResult:
    """Translate the clip ``source`` into ``output`` (see the module docstring).

    Args:
        translator: any :class:`~.translator.Translator` (a checkpoint's model, an
            exported file, or a :class:`~.steady.SteadyTranslator`).
        batch_size: frames per call of the translator.
        keep_size, native_size, tile, max_memory: as for images
            (:func:`~.pipeline.translate_arrays`).
        progress: a progress bar (frames/s and, when the length is known, ETA).

    Returns:
        The :class:`ClipResult`.

    Raises:
        VideoReadError: the file cannot be opened, has no video stream, its codec no
            decoder, or not even its first frame decodes.
        VideoWriteError: the output cannot be created.
        ValueError: options the translator cannot take (e.g. a size).
    """
    import av
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    if isinstance(translator, SteadyTranslator):
        if tile is not None or max_memory is not None:
            raise ValueError('steady translation runs whole frames: drop --tile / '
                             '--max-memory, or drop --steady')
        translator.reset()
    if osp.exists(output) and osp.exists(source) and osp.samefile(output, source):
        raise VideoWriteError(f'{output}: the output would overwrite the input')
    say = _once(log)
    start = time.perf_counter()
    with ClipReader(source) as reader:
        info = reader.info
        if say:
            say(f'{source}: {info.describe()}' +
                (f'; not copied: {", ".join(info.dropped)}' if info.dropped else ''))
        size = ((info.height, info.width) if keep_size or native_size
                else translator.image_size)
        from tqdm import tqdm
        bar = tqdm(total=info.frames, unit='frame', disable=not progress, dynamic_ncols=True,
                   desc=osp.basename(source), leave=False)
        try:
            with atomic_path(output) as tmp:
                writer = ClipWriter(tmp, info, size, reader.audio, log=say)
                try:
                    _translate_frames(translator, reader, writer, bar, batch_size, keep_size,
                                      native_size, tile, max_memory, say)
                except BaseException:
                    writer.abort()
                    raise
                writer.close(complete=reader.stopped is None)
        except (OSError, av.error.FFmpegError) as err:  # the output's folder, disk, encoder
            if isinstance(err, (VideoReadError, VideoWriteError)):
                raise
            raise VideoWriteError(f'{output}: cannot write it ({_reason(err)})') from None
        finally:
            bar.close()
    result = ClipResult(source, output, writer.frames, reader.stopped, writer.encoder,
                        time.perf_counter() - start)
    if log and result.stopped:
        log(f'{source}: stopped early, {result.stopped}; the {result.frames} frames before '
            f'it are translated in {output}')
    return result


def _translate_frames(translator: Translator, reader: ClipReader, writer: ClipWriter, bar,
                      batch_size: int, keep_size: bool, native_size: bool,
                      tile: Optional[int], max_memory: Optional[int],
                      log: Optional[Log]) -> None:
    """The clip loop: frames in batches through ``translate_arrays`` into ``writer``,
    audio packets straight to it; a steady translator restarts its averages at cuts."""
    batch: List[Frame] = []
    steady = isinstance(translator, SteadyTranslator)
    previous = None

    def flush() -> None:
        outs, _ = translate_arrays(translator, [f.rgb for f in batch], keep_size=keep_size,
                                   native_size=native_size, tile=tile, max_memory=max_memory,
                                   log=log)
        for frame, out in zip(batch, outs):
            writer.write(out, frame.pts)
        bar.update(len(batch))
        batch.clear()

    for item in reader:
        if isinstance(item, Frame):
            if steady and previous is not None and is_cut(previous, item.rgb):
                if batch:
                    flush()
                translator.reset()
                if log:
                    log(f'{reader.path}: a cut at frame {item.index}: steady statistics '
                        'start afresh')
            previous = item.rgb
            batch.append(item)
            if len(batch) == batch_size:
                flush()
        else:
            writer.copy(item)
    if batch:
        flush()
    if writer.frames == 0:
        raise VideoReadError(f'{reader.path}: no frame could be decoded' +
                             (f' ({reader.stopped})' if reader.stopped else ''))


def _reason(err: BaseException) -> str:
    return getattr(err, 'strerror', None) or str(err) or type(err).__name__


def translate_videos(translator: Translator, input_path: str, output_dir: str,
                     batch_size: int = 1, keep_size: bool = True,
                     native_size: bool = False, tile: Optional[int] = None,
                     max_memory: Optional[int] = None, progress: bool = True,
                     log: Optional[Log] = None) -> VideoReport:
    """Translate a video file, or every video under a folder tree, into ``output_dir``
    (same relative paths and names). A clip that cannot be read is skipped and listed;
    one cut short by a broken frame is kept and listed as stopped early."""
    videos = collect_videos(input_path)
    report = VideoReport()
    if not videos:
        return report
    check_output_folder(output_dir)
    for path, rel in videos:
        out = osp.join(output_dir, rel)
        try:
            result = translate_video(translator, path, out, batch_size, keep_size,
                                     native_size, tile, max_memory, progress, log)
        except (VideoReadError, VideoWriteError) as err:
            report.failed.append((path, str(err).replace(f'{path}: ', '', 1)))
            continue
        report.clips.append(result)
        if log:
            log(f'{path} -> {out}: {result.frames} frames, {result.encoder}, '
                f'{result.fps:.2f} frames/s')
    return report

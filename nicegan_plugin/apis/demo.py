"""The web demo (``tools/demo.py``): a Gradio page that translates a visitor's photo.

A visitor uploads a photo (or picks an example), picks the direction and gets the
translation, the CAM heatmap over the photo and, for light models, a native-size option.
Every photo takes the path of ``tools/translate.py``: :func:`read_rgb` (grey, palette,
16-bit and alpha images become RGB, EXIF orientation applied), then the one translation
function, ``translate_arrays``, with the same options, on the same
:class:`~nicegan_plugin.inference.Translator` (a checkpoint's model in PyTorch, or an
exported file through onnxruntime / TorchScript).

- :class:`TranslationDemo`: the handlers, without Gradio (tests call them directly);
  bad input (not an image, too many pixels, too small) gives a message, never an
  exception, so the server stays up. A video gets one line: the page takes photos;
  ``tools/translate.py`` translates videos (docs/video.md).
- :func:`open_demo_translators`: CONFIG + CHECKPOINT (both directions) or an exported
  file (its one direction).
- :func:`build_app` / :func:`launch_app`: the ``gr.Blocks`` page and its server (bound
  to 127.0.0.1 unless told otherwise; it runs in a background thread, ``app.close()``
  stops it).

Gradio is imported only by :func:`build_app` / :func:`launch_app`.
"""
import os
import os.path as osp
import re
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..deploy.backends import open_translator
from ..inference import Translator, direction_table
from ..inference.pipeline import MIN_SIDE
from ..inference.video_io import is_video_file
from ..utils.image_io import IMAGE_EXTENSIONS, ImageReadError, collect_images, read_rgb
from ..utils.model_utils import model_domains
from .loading import load_config, load_model
from .translation import as_translator, translate_arrays

#: largest photo accepted, in pixels (a 25 MP phone photo passes; decoding bigger ones
#: costs the server seconds and gigabytes)
MAX_PIXELS = 40_000_000
#: largest photo translated at native size, in pixels (the network then runs at that
#: size: memory and time grow with it; resized translation has no such cost)
MAX_NATIVE_PIXELS = 4_000_000
#: the demo's uploads are refused above this file size (Gradio's limit, checked first)
MAX_FILE_SIZE = '50mb'
#: uploaded photos and results are deleted from Gradio's cache after this many seconds
CACHE_SECONDS = 3600
#: height of the page's images, in CSS pixels (they scale down to fit, never up)
IMAGE_HEIGHT = 320
#: examples shown per domain when they come from the config's test folders
EXAMPLES_PER_DOMAIN = 3
#: the answer to a video upload (the page translates photos)
VIDEO_MESSAGE = ('**{name}** is a video; this demo translates photos only. Translate '
                 'videos with tools/translate.py (docs/video.md).')

#: PIL modes read_rgb converts, and what the page says about it
_CONVERSIONS = {
    '1': 'a black-and-white image: converted to RGB',
    'L': 'a greyscale image: converted to RGB (grey in all three channels)',
    'LA': 'a greyscale image with alpha: converted to RGB, the alpha channel dropped',
    'P': 'a palette image: converted to RGB',
    'PA': 'a palette image with alpha: converted to RGB, the alpha channel dropped',
    'RGBA': 'an RGBA image: the alpha channel dropped',
    'RGBa': 'an RGBA image: the alpha channel dropped',
    'CMYK': 'a CMYK image: converted to RGB',
    'YCbCr': 'a YCbCr image: converted to RGB',
    'LAB': 'a Lab image: converted to RGB',
    'HSV': 'an HSV image: converted to RGB',
}


@dataclass
class DemoResult:
    """What one translation request produced: images for the page and a message.

    ``source`` is the photo as the model sees it (RGB, after conversion); images are
    HxWx3 RGB uint8; ``ok`` is False when the request was refused (``message`` says
    why and what to do)."""
    ok: bool
    message: str
    source: Optional[np.ndarray] = None
    translation: Optional[np.ndarray] = None
    heatmap: Optional[np.ndarray] = None
    notes: List[str] = field(default_factory=list)


def _megapixels(pixels: int) -> str:
    return f'{pixels / 1e6:.1f} MP' if pixels >= 100_000 else f'{pixels:,} px'


class TranslationDemo:
    """The demo's translators and request handlers (no Gradio in here).

    Args:
        translators: the directions offered, each a translator of one direction
            (:func:`open_demo_translators`); all share the same two domains.
        examples: image files offered as examples.
        max_pixels: photos with more pixels are refused (:data:`MAX_PIXELS`).
        max_native_pixels: the same for native-size translation.
        tile: native-size translation tile by tile with tiles of this many pixels
            (``translate_arrays(tile=...)``; light models in PyTorch); None: whole.
        title: the page's heading.
    """

    def __init__(self, translators: Sequence[Translator], examples: Sequence[str] = (),
                 max_pixels: int = MAX_PIXELS, max_native_pixels: int = MAX_NATIVE_PIXELS,
                 tile: Optional[int] = None, title: str = 'NICE-GAN translation'
                 ) -> None:
        if not translators:
            raise ValueError('the demo needs at least one translator')
        domains = translators[0].domains
        if any(t.domains != domains for t in translators):
            raise ValueError('the demo\'s translators must share their two domains, got '
                             f'{[t.domains for t in translators]}')
        self.domains = domains
        self.translators: Dict[Tuple[str, str], Translator] = {
            (t.source_domain, t.target_domain): t for t in translators}
        self.examples = list(examples)
        self.max_pixels = int(max_pixels)
        self.max_native_pixels = int(max_native_pixels)
        self.tile = tile
        self.title = title

    # ------------------------------------------------------------ what is offered
    @property
    def directions(self) -> List[Tuple[str, str]]:
        """(label, value) of each direction offered, e.g. ``('cat → dog', 'cat2dog')``."""
        return [(f'{s} → {t}', f'{s}2{t}') for s, t in self.translators]

    @property
    def native_size_available(self) -> bool:
        """Whether any direction can translate at native size (light models)."""
        return any(t.dynamic_size for t in self.translators.values())

    def translator(self, direction: str) -> Translator:
        """The translator of ``direction`` ('a2b', 'b2a' or '<src>2<tgt>')."""
        pair = direction_table(self.domains).get(direction)
        if pair is None:
            raise ValueError(f'unknown direction {direction!r}; use one of '
                             f'{sorted(direction_table(self.domains))}')
        if pair not in self.translators:
            offered = ', '.join(label for label, _ in self.directions)
            raise ValueError(f'this demo translates {offered} only, not {pair[0]} → '
                             f'{pair[1]} (an exported file holds one direction)')
        return self.translators[pair]

    def describe(self) -> str:
        """One line per direction: what runs it."""
        return '\n'.join(t.describe() for t in self.translators.values())

    # ------------------------------------------------------------------ handler
    def translate(self, path: Optional[str], direction: str,
                  native_size: bool = False) -> DemoResult:
        """Translate the image file at ``path`` in ``direction``; never raises for bad
        input: the result's ``message`` says what was wrong and what to do."""
        if not path:
            return DemoResult(False, 'Upload a photo or pick an example.')
        name = osp.basename(str(path))
        if is_video_file(name):
            return DemoResult(False, VIDEO_MESSAGE.format(name=name))
        try:
            translator = self.translator(direction)
        except ValueError as err:
            return DemoResult(False, str(err))
        checked = self._check_file(path, name, native_size, translator)
        if isinstance(checked, DemoResult):
            return checked
        notes = checked
        try:
            image = read_rgb(path)
        except ImageReadError as err:
            return DemoResult(False, self._not_an_image(name, err))
        h, w = image.shape[:2]
        if min(h, w) < MIN_SIDE:
            return DemoResult(False, f'**{name}** is only {w}x{h} px; this demo needs at '
                              f'least {MIN_SIDE} px on each side (the encoder sees 4x4 px '
                              'per feature). Upload a larger photo.', source=image,
                              notes=notes)
        start = time.perf_counter()
        try:
            out, overlays = translate_arrays(translator, [image], translator.target_domain,
                                             heatmaps=translator.has_heatmap,
                                             **self._size_options(native_size))
        except (ValueError, RuntimeError, MemoryError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ''
            return DemoResult(False, f'Could not translate **{name}**: '
                              f'{first or type(err).__name__}', source=image, notes=notes)
        seconds = time.perf_counter() - start
        how = 'at its own size' if native_size else (
            'resized to {}x{} and back'.format(*translator.image_size[::-1]))
        if not translator.has_heatmap:
            notes.append(f'{translator.origin} has no CAM heatmap output (export it with '
                         '--heatmap to get one).')
        message = (f'Translated **{name}** ({w}x{h}) {translator.source_domain} → '
                   f'{translator.target_domain} {how} with {translator.name} in '
                   f'{seconds:.2f} s.')
        return DemoResult(True, message, image, out[0],
                          overlays[0] if overlays is not None else None, notes)

    def _size_options(self, native_size: bool) -> Dict:
        """The size keywords of ``translate_arrays``, as ``tools/translate.py`` passes
        them (``--native-size``; default: resize to the training size and back)."""
        if not native_size:
            return dict(keep_size=True)
        options: Dict = dict(native_size=True)
        if self.tile is not None:  # big native-size photos tile by tile
            options['tile'] = self.tile
        return options

    def _check_file(self, path: str, name: str, native_size: bool,
                    translator: Translator):
        """Notes about the photo (conversions), or a refusal :class:`DemoResult`.
        Reads only the file's header: huge photos are refused before decoding."""
        if not osp.isfile(path):
            return DemoResult(False, f'**{name}** was not received; upload it again.')
        too_big = (f'; this demo takes photos of up to {_megapixels(self.max_pixels)}. '
                   'Scale it down, or translate it with tools/translate.py.')
        try:
            with Image.open(path) as img:
                (w, h), mode = img.size, img.mode
        except Image.DecompressionBombError as err:  # PIL's own limit, far above ours
            pixels = re.search(r'\((\d+) pixels\)', str(err))
            size = _megapixels(int(pixels.group(1))) if pixels else 'too many pixels'
            return DemoResult(False, f'**{name}** is {size}{too_big}')
        except (OSError, SyntaxError, ValueError) as err:
            return DemoResult(False, self._not_an_image(name, err))
        if w * h > self.max_pixels:
            return DemoResult(False, f'**{name}** is {w}x{h} = {_megapixels(w * h)}{too_big}')
        if native_size:
            if not translator.dynamic_size:
                return DemoResult(False, f'{translator.origin} cannot translate at native '
                                  f'size (it takes {translator.accepted_sizes()}); untick '
                                  '"native size".')
            if w * h > self.max_native_pixels and self.tile is None:
                return DemoResult(False, f'**{name}** is {w}x{h} = {_megapixels(w * h)}; '
                                  'native size here is limited to '
                                  f'{_megapixels(self.max_native_pixels)}. Untick "native '
                                  'size" to translate it resized, or use tools/translate.py '
                                  '--native-size.')
        notes = []
        if mode in _CONVERSIONS:
            notes.append(f'**{name}** is {_CONVERSIONS[mode]}, as tools/translate.py does.')
        elif mode.startswith(('I', 'F')):
            notes.append(f'**{name}** is a {mode} (16/32-bit) image: scaled to 8 bits and '
                         'converted to RGB, as tools/translate.py does.')
        return notes

    @staticmethod
    def _not_an_image(name: str, err: BaseException) -> str:
        kinds = ', '.join(e.lstrip('.').upper() for e in IMAGE_EXTENSIONS)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return (f'**{name}** is not an image this demo can read ({reason}). Upload a photo: '
                f'{kinds}.')


# ------------------------------------------------------------------ opening
def open_demo_translators(config: Optional[str] = None, checkpoint: Optional[str] = None,
                          model_file: Optional[str] = None, device: str = 'cpu',
                          backend: Optional[str] = None) -> List[Translator]:
    """The translators a demo offers: both directions of CONFIG + CHECKPOINT (one
    model, in PyTorch, with the CAM heatmap), or the one direction of an exported file
    (``model_file``, written by ``tools/export.py``; ``backend`` as in
    ``tools/translate.py --backend``). Errors name the file and what to do."""
    if model_file and (config or checkpoint):
        raise ValueError('pass either CONFIG CHECKPOINT or --model FILE, not both')
    if model_file:
        return [open_translator(model_file, backend, device)]
    if not (config and checkpoint):
        raise ValueError('pass CONFIG CHECKPOINT, or --model FILE (a file written by '
                         'tools/export.py)')
    model = load_model(config, checkpoint, device)
    domain_a, domain_b = model_domains(model)  # a2b first, then b2a
    return [as_translator(model, domain_b, heatmaps=True),
            as_translator(model, domain_a, heatmaps=True)]


def find_examples(folder: Optional[str] = None, config: Optional[str] = None,
                  per_domain: int = EXAMPLES_PER_DOMAIN) -> List[str]:
    """Example photos: every image under ``folder``; else, when ``config`` is given, the
    first ``per_domain`` images of each of its dataset's ``testA``/``testB`` folders if
    they exist (the quickstart's test images for its config); else none."""
    if folder:
        if not osp.isdir(folder):
            raise FileNotFoundError(f'examples folder not found: {folder}')
        found = [path for path, _ in collect_images(folder)]
        if not found:
            raise ValueError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) under {folder}')
        return found
    if not config:
        return []
    try:
        root = load_config(config).test_dataloader.dataset.data_root
    except (AttributeError, KeyError, TypeError):
        return []
    found = []
    for sub in ('testA', 'testB'):
        path = osp.join(str(root), sub)
        if osp.isdir(path):
            found += [p for p, _ in collect_images(path)][:per_domain]
    return found


# ------------------------------------------------------------------ the page
#: system fonts only: Gradio's default theme would fetch Google Fonts at page load
_FONTS = ['ui-sans-serif', 'system-ui', 'sans-serif']
_MONO_FONTS = ['ui-monospace', 'monospace']


def build_app(demo: TranslationDemo, initial_direction: Optional[str] = None):
    """The ``gr.Blocks`` page of ``demo``: photo upload (any file; the handler checks
    it) and examples, direction, native size (light models), translation, heatmap, and
    a status box (``elem_id='status'``) that answers every request."""
    import gradio as gr
    directions = demo.directions
    first = directions[0][1]
    if initial_direction:
        chosen = demo.translator(initial_direction)  # a clear error if not offered
        first = f'{chosen.source_domain}2{chosen.target_domain}'

    def on_request(path, direction, native_size):
        result = demo.translate(path, direction, bool(native_size))
        status = result.message + ''.join(f'\n\n{n}' for n in result.notes)
        if not result.ok and path:  # a cleared upload needs no warning
            gr.Warning(result.message.replace('**', ''))
        elif result.notes:
            gr.Info(' '.join(result.notes).replace('**', ''))
        return result.source, result.translation, result.heatmap, status

    runs = sorted({f'{t.name} ({t.origin})' for t in demo.translators.values()})
    image = dict(type='numpy', format='png', interactive=False, height=IMAGE_HEIGHT,
                 buttons=['download', 'fullscreen'])
    # uploads and results are files in Gradio's cache: deleted after an hour
    with gr.Blocks(title=demo.title, analytics_enabled=False,
                   delete_cache=(CACHE_SECONDS, CACHE_SECONDS)) as app:
        gr.Markdown(f'# {demo.title}: {demo.domains[0]} ↔ {demo.domains[1]}\n'
                    'Upload a photo or pick an example, choose the direction; the '
                    f'translation and the CAM heatmap appear below. Runs on {", ".join(runs)}.')
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.File(label='Photo (JPEG, PNG, ...)', type='filepath',
                                elem_id='photo', height=140)
            with gr.Column(scale=1):
                direction = gr.Radio(directions, value=first, label='Direction',
                                     interactive=len(directions) > 1, elem_id='direction')
                native = gr.Checkbox(label='native size (no resizing; light models)',
                                     value=False, visible=demo.native_size_available,
                                     elem_id='native')
            with gr.Column(scale=2):
                status = gr.Markdown('Upload a photo or pick an example.', elem_id='status')
        with gr.Row(equal_height=True):
            seen = gr.Image(label='Photo as the model reads it (RGB)', elem_id='source',
                            **image)
            translation = gr.Image(label='Translation', elem_id='translation', **image)
            heatmap = gr.Image(label='CAM heatmap over the photo', elem_id='heatmap',
                               **image)
        inputs = [photo, direction, native]
        outputs = [seen, translation, heatmap, status]
        for trigger in (photo.change, direction.change, native.change):
            trigger(on_request, inputs, outputs, show_progress='minimal')
        if demo.examples:
            gr.Examples([[p] for p in demo.examples], [photo], label='Examples')
    return app


def launch_app(app, host: str = '127.0.0.1', port: Optional[int] = None,
               quiet: bool = False) -> str:
    """Start serving ``app`` on ``host``:``port`` (None: Gradio's first free port from
    7860) in a background thread and return its URL; ``app.block_thread()`` then waits
    for Ctrl-C, ``app.close()`` stops the server. Never a share link; no analytics, no
    version check, no server-side rendering, no web fonts: nothing is fetched."""
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    import gradio as gr
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, share=False, inbrowser=False,
               prevent_thread_lock=True, quiet=quiet, show_error=True, ssr_mode=False,
               max_file_size=MAX_FILE_SIZE,
               theme=gr.themes.Default(font=_FONTS, font_mono=_MONO_FONTS))
    return app.local_url

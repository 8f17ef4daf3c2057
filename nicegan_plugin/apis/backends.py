"""Translator backends: one interface over PyTorch, onnxruntime and TorchScript.

A *translator* is one NICE-GAN direction (source encoder + target generator) taking
RGB images in [-1, 1], (N, 3, H, W) float32, and returning the translation in the
same space (and, if exported with it, the source CAM heatmap (N, 1, H/4, W/4)).
Its *spec* is the JSON dict that :mod:`nicegan_plugin.apis.export` embeds in the
exported file and writes beside it (``<file>.json``): domains, direction and the
input sizes the network takes. Every backend checks sizes against it before running,
so a wrong size gives one clear line instead of a runtime's deep error.

- :class:`PyTorchBackend`: any ``nn.Module`` with that signature (in-process model);
- :class:`OnnxRuntimeBackend`: an exported ``.onnx`` file (CPU execution provider);
- :class:`TorchScriptBackend`: an exported TorchScript archive;
- :func:`open_translator`: an exported file -> the right backend, with clear errors
  for files of another kind (a checkpoint, an ONNX model from elsewhere, ...).
"""
import abc
import json
import os.path as osp
import warnings
import zipfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

#: key of the spec in ONNX ``metadata_props`` / TorchScript extra files (``<key>.json``)
META_KEY = 'nicegan_translator'
#: schema version of the spec
SPEC_VERSION = 1
#: backend name -> exported format it reads (``pytorch`` runs an in-process model)
BACKEND_FORMATS = {'pytorch': None, 'onnxruntime': 'onnx', 'torchscript': 'torchscript'}
FORMAT_BACKENDS = {'onnx': 'onnxruntime', 'torchscript': 'torchscript'}
#: RGB uint8 <-> [-1, 1], the same arithmetic as ``ModelIO`` with mean = std = 127.5
PIXEL_SCALE = 127.5

Outputs = Tuple[np.ndarray, Optional[np.ndarray]]


def sidecar_path(path: str) -> str:
    """Where the JSON spec of an exported file lives: ``<file>.json``."""
    return path + '.json'


def to_model_range(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) RGB uint8 -> (N, 3, H, W) float32 in [-1, 1]."""
    x = images.astype(np.float32).transpose(0, 3, 1, 2)
    return np.ascontiguousarray((x - np.float32(PIXEL_SCALE)) / np.float32(PIXEL_SCALE))


def to_uint8(x: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) float in [-1, 1] -> (N, H, W, 3) RGB uint8 (round half to even)."""
    y = x.astype(np.float32) * np.float32(PIXEL_SCALE) + np.float32(PIXEL_SCALE)
    return np.clip(y, 0, 255).round().astype(np.uint8).transpose(0, 2, 3, 1)


class TranslatorBackend(abc.ABC):
    """A translator behind one interface (see the module docstring).

    Args:
        spec: the translator's JSON spec (``input``: ``height``, ``width``,
            ``dynamic_size``, ``size_multiple``, ``min_size``; ``outputs``; domains).
        origin: what it was opened from, for messages (a file name or ``'model'``).
    """
    name = ''

    def __init__(self, spec: Dict[str, Any], origin: str) -> None:
        _check_spec(spec, origin)
        self.spec = spec
        self.origin = origin

    # ------------------------------------------------------------------ spec
    @property
    def source_domain(self) -> str:
        return self.spec['source_domain']

    @property
    def target_domain(self) -> str:
        return self.spec['target_domain']

    @property
    def has_heatmap(self) -> bool:
        return any(o['name'] == 'heatmap' for o in self.spec['outputs'])

    @property
    def dynamic_size(self) -> bool:
        return bool(self.spec['input']['dynamic_size'])

    @property
    def image_size(self) -> Tuple[int, int]:
        """(height, width) the model was trained at (the fixed size if not dynamic)."""
        return int(self.spec['input']['height']), int(self.spec['input']['width'])

    def accepted_sizes(self) -> str:
        """The sizes this translator takes, in words."""
        inp = self.spec['input']
        if not self.dynamic_size:
            h, w = self.image_size
            return f'{h}x{w} only'
        return (f'heights and widths that are multiples of {inp["size_multiple"]} and at '
                f'least {inp["min_size"]} px')

    def native_size(self, height: int, width: int) -> Tuple[int, int]:
        """The smallest accepted (height, width) >= the given one (for padding)."""
        if not self.dynamic_size:
            raise ValueError(f'{self.origin} takes {self.accepted_sizes()}, so it cannot '
                             'translate at native size (export a light model with '
                             '--dynamic-size, or translate with resizing)')
        m, lo = self.spec['input']['size_multiple'], self.spec['input']['min_size']
        return tuple(max(lo, -(-s // m) * m) for s in (height, width))

    def check_size(self, height: int, width: int) -> None:
        """ValueError naming the accepted sizes if the network cannot take this size."""
        if self.dynamic_size:
            m, lo = self.spec['input']['size_multiple'], self.spec['input']['min_size']
            ok = height % m == 0 and width % m == 0 and min(height, width) >= lo
        else:
            ok = (height, width) == self.image_size
        if not ok:
            fix = 'resize the image (the default of tools/translate.py)'
            if self.dynamic_size:
                fix = ('(e.g. {}x{}); '.format(*self.native_size(height, width)) + fix +
                       ' or pad it (--native-size)')
            else:
                fix = '; ' + fix
            raise ValueError(f'{self.origin} cannot take a {height}x{width} image: it takes '
                             f'{self.accepted_sizes()} {fix}'.replace(' ;', ';'))

    # --------------------------------------------------------------- running
    @abc.abstractmethod
    def _run(self, x: np.ndarray) -> Outputs:
        """(translation, heatmap or None) for a checked float32 batch."""

    def forward(self, x: np.ndarray) -> Outputs:
        """(N, 3, H, W) float32 RGB in [-1, 1] -> (translation (N, 3, H, W),
        heatmap (N, 1, H/4, W/4) or None), float32 numpy."""
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f'{self.origin} takes (N, 3, H, W) RGB batches, got shape '
                             f'{tuple(x.shape)}')
        self.check_size(x.shape[2], x.shape[3])
        return self._run(np.ascontiguousarray(x, dtype=np.float32))

    def translate(self, images: Sequence[np.ndarray]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """HxWx3 RGB uint8 images of one accepted size -> ((N, H, W, 3) uint8,
        heatmaps (N, H/4, W/4) float32 or None)."""
        y, heat = self.forward(to_model_range(np.stack(images)))
        return to_uint8(y), (heat[:, 0] if heat is not None else None)

    def check_direction(self, direction: str) -> None:
        """ValueError unless ``direction`` ('a2b', 'b2a', '<src>2<tgt>') is this one."""
        a, b = self.spec.get('domains', [self.source_domain, self.target_domain])
        named = {'a2b': (a, b), 'b2a': (b, a), f'{a}2{b}': (a, b), f'{b}2{a}': (b, a)}
        if named.get(direction) != (self.source_domain, self.target_domain):
            raise ValueError(f'{self.origin} translates {self.source_domain} -> '
                             f'{self.target_domain} only, not {direction!r}; export the '
                             'other direction with tools/export.py --direction')

    def describe(self) -> str:
        s = self.spec
        return (f'{self.name} translator {s["source_domain"]} -> {s["target_domain"]} '
                f'({self.origin}; {self.accepted_sizes()})')


def _check_spec(spec: Any, origin: str) -> None:
    need = ('source_domain', 'target_domain', 'input', 'outputs')
    if not isinstance(spec, dict) or any(k not in spec for k in need):
        raise ValueError(f'{origin}: translator metadata lacks {list(need)}; '
                         're-export it with tools/export.py')
    if spec.get('spec_version', SPEC_VERSION) > SPEC_VERSION:
        raise ValueError(f'{origin} was written by a newer nicegan_plugin (spec version '
                         f'{spec["spec_version"]} > {SPEC_VERSION}); update the plugin')


# ------------------------------------------------------------------ backends
class PyTorchBackend(TranslatorBackend):
    """An in-process ``nn.Module`` translator (e.g. :class:`~.export.NICEGANTranslator`
    built on a loaded model), run in eval mode under ``no_grad`` on its own device."""
    name = 'pytorch'

    def __init__(self, module, spec: Dict[str, Any], origin: str = 'model') -> None:
        super().__init__(spec, origin)
        self.module = module

    def _run(self, x: np.ndarray) -> Outputs:
        import torch

        from ..utils.model_utils import eval_mode, model_device
        device = model_device(self.module)
        with eval_mode(self.module):
            out = self.module(torch.from_numpy(x).to(device))
        y, heat = out if isinstance(out, tuple) else (out, None)
        return (y.float().cpu().numpy(),
                heat.float().cpu().numpy() if heat is not None else None)


class OnnxRuntimeBackend(TranslatorBackend):
    """An exported ONNX translator run by onnxruntime.

    Args:
        path: the ``.onnx`` file (its spec is read from the file's metadata).
        providers: onnxruntime execution providers (default: CPU).
        threads: intra-op threads (default: onnxruntime's, one per physical core).
    """
    name = 'onnxruntime'

    def __init__(self, path: str, providers: Optional[List[str]] = None,
                 threads: Optional[int] = None) -> None:
        _expect_kind(path, 'onnx')
        import onnxruntime as ort
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(
                path, options, providers=providers or ['CPUExecutionProvider'])
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f'onnxruntime cannot load {path}: {str(err).splitlines()[0]}') \
                from err
        meta = self.session.get_modelmeta().custom_metadata_map
        super().__init__(_read_spec(meta.get(META_KEY), path), osp.basename(path))
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _run(self, x: np.ndarray) -> Outputs:
        outs = self.session.run(None, {self.input_name: x})
        named = dict(zip(self.output_names, outs))
        return named['translation'], named.get('heatmap')


class TorchScriptBackend(TranslatorBackend):
    """An exported TorchScript translator (``torch.jit.load``; needs torch only).

    Args:
        path: the TorchScript archive (its spec is an extra file inside it).
        device: where to run it.
    """
    name = 'torchscript'

    def __init__(self, path: str, device: str = 'cpu') -> None:
        _expect_kind(path, 'torchscript')
        import torch
        extra = {f'{META_KEY}.json': ''}
        try:
            with warnings.catch_warnings():  # deprecated in torch >= 2.10, still supported
                warnings.filterwarnings('ignore', message='`torch.jit', category=DeprecationWarning)
                self.module = torch.jit.load(path, map_location=device, _extra_files=extra)
        except Exception as err:
            raise ValueError(f'torch.jit.load cannot load {path}: '
                             f'{str(err).splitlines()[0]}') from err
        super().__init__(_read_spec(extra[f'{META_KEY}.json'] or None, path),
                         osp.basename(path))
        self.device = torch.device(device)

    def _run(self, x: np.ndarray) -> Outputs:
        import torch
        with torch.no_grad():
            out = self.module(torch.from_numpy(x).to(self.device))
        y, heat = out if isinstance(out, tuple) else (out, None)
        return y.cpu().numpy(), heat.cpu().numpy() if heat is not None else None


# ------------------------------------------------------------- opening files
def file_kind(path: str) -> str:
    """'onnx', 'torchscript', 'checkpoint' (a torch.save file), 'json' or 'unknown'."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        if any(n.endswith('/constants.pkl') or '/code/' in n for n in names):
            return 'torchscript'
        return 'checkpoint' if any(n.endswith('data.pkl') for n in names) else 'unknown'
    with open(path, 'rb') as f:
        head = f.read(1)
    # an ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08;
    # legacy torch.save files are pickles (protocol byte 0x80)
    return {b'\x08': 'onnx', b'\x80': 'checkpoint', b'{': 'json'}.get(head, 'unknown')


def _expect_kind(path: str, want: str) -> None:
    if not osp.isfile(path):
        raise FileNotFoundError(f'exported translator not found: {path}')
    kind = file_kind(path)
    if kind == want:
        return
    if kind in FORMAT_BACKENDS:
        raise ValueError(f'{path} is a {kind} file, not {want}: use --backend '
                         f'{FORMAT_BACKENDS[kind]} (or leave --backend out)')
    if kind == 'checkpoint':
        raise ValueError(f'{path} is a training checkpoint, not an exported translator: '
                         'pass CONFIG CHECKPOINT instead of --model, or export it first with '
                         'tools/export.py')
    if kind == 'json':
        raise ValueError(f'{path} is a JSON file; pass the exported model it describes '
                         '(the file name without .json)')
    raise ValueError(f'{path} is neither an ONNX nor a TorchScript translator written by '
                     'tools/export.py')


def _read_spec(text: Optional[str], path: str) -> Dict[str, Any]:
    if text is None and osp.isfile(sidecar_path(path)):  # embedded spec stripped by a tool
        with open(sidecar_path(path)) as f:
            text = f.read()
    if not text:
        raise ValueError(f'{path} carries no NICE-GAN translator metadata (key {META_KEY!r}) '
                         f'and has no {osp.basename(sidecar_path(path))} beside it: it was not '
                         'written by tools/export.py')
    try:
        return json.loads(text)
    except ValueError as err:
        raise ValueError(f'{path}: unreadable translator metadata ({err})') from err


def open_translator(path: str, backend: Optional[str] = None, device: str = 'cpu'
                    ) -> TranslatorBackend:
    """The backend for an exported translator file; ``backend`` None picks it from the
    file (ONNX -> onnxruntime, TorchScript -> torchscript)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'exported translator not found: {path}')
    if backend is None:
        kind = file_kind(path)
        if kind not in FORMAT_BACKENDS:
            _expect_kind(path, 'onnx')  # raises the message for this kind
        backend = FORMAT_BACKENDS[kind]
    if backend == 'onnxruntime':
        return OnnxRuntimeBackend(path)
    if backend == 'torchscript':
        return TorchScriptBackend(path, device)
    raise ValueError(f'backend {backend!r} cannot open an exported file; use one of '
                     f'{sorted(FORMAT_BACKENDS.values())}')


# ------------------------------------------------ translating images of any size
def pad_to(image: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Reflect-pad an HxWx3 image at the bottom and right to ``size`` (>= its own)."""
    dh, dw = size[0] - image.shape[0], size[1] - image.shape[1]
    return np.pad(image, ((0, dh), (0, dw), (0, 0)), mode='reflect') if dh or dw else image


def translate_with_backend(backend: TranslatorBackend, images: Sequence[np.ndarray],
                           size: Optional[Tuple[int, int]] = None, keep_size: bool = True,
                           heatmaps: bool = False, native_size: bool = False
                           ) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]]]:
    """:func:`~nicegan_plugin.apis.translation.translate_arrays` through a backend.

    Args:
        size: network input (height, width) when resizing; default: the training size.
        keep_size: resize outputs back to the inputs' sizes (bicubic), as the default
            path does; ignored with ``native_size``.
        heatmaps: also return the CAM heatmap (JET) blended 50/50 over each input.
        native_size: no resizing: each image is reflect-padded at the bottom/right to
            the nearest size the network takes (multiples of 4, at least its minimum),
            translated, and cropped back (dynamic-size light translators only).
    """
    from PIL import Image

    from ..utils.image_io import resize_rgb
    from ..visualization.cam import colorize_heatmap
    if heatmaps and not backend.has_heatmap:
        raise ValueError(f'{backend.origin} has no heatmap output; export it with --heatmap '
                         'to write heatmaps')
    if native_size:
        backend.native_size(1, 1)  # raises for fixed-size translators
    size = size or backend.image_size
    outs: List[Optional[np.ndarray]] = [None] * len(images)
    overlays: Optional[List[Optional[np.ndarray]]] = [None] * len(images) if heatmaps else None
    groups: Dict[Tuple[int, int], List[int]] = {}
    for i, im in enumerate(images):
        shape = backend.native_size(*im.shape[:2]) if native_size else tuple(size)
        groups.setdefault(shape, []).append(i)
    for shape, indices in groups.items():
        batch = [pad_to(images[i], shape) if native_size else resize_rgb(images[i], shape)
                 for i in indices]
        fake, heat = backend.translate(batch)
        for j, i in enumerate(indices):
            h, w = images[i].shape[:2]
            if native_size:
                outs[i] = np.ascontiguousarray(fake[j][:h, :w])
                out_size = (h, w)
            else:
                out_size = (h, w) if keep_size else tuple(size)
                outs[i] = resize_rgb(fake[j], out_size, Image.BICUBIC)
            if overlays is not None:
                if native_size:  # the heatmap of the padded image, cropped like the output
                    color = colorize_heatmap(heat[j], shape)[:h, :w, ::-1]
                    base = images[i]
                else:
                    color = colorize_heatmap(heat[j], out_size)[..., ::-1]
                    base = resize_rgb(images[i], out_size)
                overlays[i] = ((base.astype(np.uint16) + color) // 2).astype(np.uint8)
    return outs, overlays

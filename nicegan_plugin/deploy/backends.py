"""Exported translator files behind the :class:`~nicegan_plugin.inference.Translator`
interface: onnxruntime and TorchScript.

An exported file (:mod:`.export`) holds one direction's :class:`TranslatorNet` and its
spec (embedded, and written beside it as ``<file>.json``). These translators run it
wherever the in-process :class:`~nicegan_plugin.inference.TorchTranslator` runs a model:
the same pixel conversion, sizes and overlays (:func:`nicegan_plugin.inference.translate_arrays`).

- :class:`OnnxRuntimeTranslator`: an ``.onnx`` file (CPU execution provider; no torch);
- :class:`TorchScriptTranslator`: a TorchScript archive;
- :func:`open_translator`: an exported file -> the right translator, with clear errors for
  files of another kind (a checkpoint, an ONNX model from elsewhere, ...).
"""
import json
import os.path as osp
import warnings
import zipfile
from typing import Any, Dict, List, Optional

import numpy as np

from ..inference.translator import META_KEY, Outputs, Translator

#: backend name -> exported format it reads (``pytorch`` runs an in-process model)
BACKEND_FORMATS = {'pytorch': None, 'onnxruntime': 'onnx', 'torchscript': 'torchscript'}
FORMAT_BACKENDS = {'onnx': 'onnxruntime', 'torchscript': 'torchscript'}


def sidecar_path(path: str) -> str:
    """Where the JSON spec of an exported file lives: ``<file>.json``."""
    return path + '.json'


class OnnxRuntimeTranslator(Translator):
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


class TorchScriptTranslator(Translator):
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
                    ) -> Translator:
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
        return OnnxRuntimeTranslator(path)
    if backend == 'torchscript':
        return TorchScriptTranslator(path, device)
    raise ValueError(f'backend {backend!r} cannot open an exported file; use one of '
                     f'{sorted(FORMAT_BACKENDS.values())}')

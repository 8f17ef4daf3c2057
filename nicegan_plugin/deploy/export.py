"""Export one NICE-GAN direction as a standalone translator (ONNX or TorchScript).

A trained direction A -> B is ``generators[B](discriminators[A].encode(x))``. The
exported graph is that, in eval mode:

- the source discriminator's ``encode`` with every spectral norm *folded*: its
  eval-mode ``W / sigma`` (sigma from the stored ``u``, ``v``) is computed once and
  stored as a plain weight (:func:`fold_parametrizations`); the heads the encoder
  does not use are not in the graph;
- the target's inference generator: the EMA generator when the model has one, exactly
  what its eval-mode ``translation()`` uses;
- input and output RGB in [-1, 1], (N, 3, H, W) float32; optionally the source CAM
  heatmap (N, 1, H/4, W/4), the channel sum of the encoder features (the official
  ``heatmap`` output), as a second output.

Batch is always dynamic. Light models export with dynamic height/width on request
(``dynamic_size``); the full model's MLP is tied to ``img_size``, so it exports at
that size only. The spec (domains, direction, sizes, value range) is embedded in the
file and written beside it as ``<file>.json``; :func:`export_translator` verifies the
file against the PyTorch model before keeping it.

ONNX goes through ``torch.onnx.export(dynamo=True)`` (the torch.export-based exporter):
the legacy TorchScript-based exporter also works here but is deprecated since torch
2.9 (a ``DeprecationWarning`` in torch 2.13), gives outputs no symbolic shapes and
a larger graph (487 vs 346 nodes for a tiny model), and runs 15 % slower under
onnxruntime (0.58 vs 0.49 s, paper model, 256 px, 2-core CPU). The graph's multi-axis
reductions are then split into single-axis ones (:func:`split_reductions`), because
onnxruntime's float32 reductions over whole feature maps are not accurate enough.
"""
import copy
import os.path as osp
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from ..inference.translator import (
    META_KEY,
    TorchTranslator,
    Translator,
    TranslatorNet,
    resolve_direction,
    translator_net,
    translator_spec,
)
from ..utils.fileio import atomic_path, atomic_write
from ..utils.image_io import resize_rgb
from ..utils.model_utils import eval_mode, model_device, unwrap
from ..utils.pixels import ModelIO, to_model_range
from .backends import FORMAT_BACKENDS, open_translator, sidecar_path

FORMATS = ('onnx', 'torchscript')
#: ONNX opset: the exporter's native one (no version conversion), onnxruntime >= 1.14
DEFAULT_OPSET = 18
#: max abs difference allowed between an exported translator and PyTorch (outputs in [-1, 1])
TOLERANCE = 1e-4


class VerificationError(RuntimeError):
    """An exported translator does not reproduce the PyTorch model."""


class _Folded(nn.Module):
    """Parametrization returning a fixed tensor: the frozen eval-mode value."""

    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer('value', value)

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        return self.value


def fold_parametrizations(module: nn.Module) -> int:
    """Freeze every parametrized tensor (spectral norm here) at its eval-mode value.

    ``module`` must be in eval mode (train mode would run a power iteration). The raw
    tensor stays reachable as ``parametrizations.<name>.original`` (the CAM re-weighting
    reads the raw CAM weight), but evaluating ``<name>`` costs nothing and a traced or
    exported graph holds the folded tensor as a constant. Returns how many were folded.
    """
    if any(m.training for m in module.modules()):
        raise RuntimeError('fold_parametrizations needs a module in eval mode')
    count = 0
    for m in list(module.modules()):
        if not parametrize.is_parametrized(m):
            continue
        for name, chain in m.parametrizations.items():
            with torch.no_grad():
                value = getattr(m, name).detach().clone()
            # replace the chain's entries rather than remove_parametrizations: on a
            # deepcopy that would delete the property from the class it shares with
            # the original module, breaking the model being exported
            while len(chain) > 1:
                del chain[len(chain) - 1]
            chain[0] = _Folded(value)
            count += 1
    return count


def build_translator(model: nn.Module, direction: str = 'a2b',
                     heatmap: bool = False) -> TranslatorNet:
    """The exportable network of one direction: an eval-mode CPU float32 copy of the
    source encoder (spectral norms folded) and of the target's inference generator
    (the EMA generator when the model has one: what its ``translation()`` uses)."""
    net = unwrap(model)
    source, target = resolve_direction(net, direction)
    with eval_mode(net):
        view = translator_net(net, source, target, heatmap)
        encoder = copy.deepcopy(view.encoder).cpu().float().eval()
        generator = copy.deepcopy(view.generator).cpu().float().eval()
        fold_parametrizations(encoder)
    return TranslatorNet(encoder, generator, heatmap, ModelIO(net)).eval()


def model_translator(model: nn.Module, backend: str, direction: str = 'a2b',
                     heatmap: bool = False, folder: Optional[str] = None,
                     verify: bool = True) -> Translator:
    """An exported translator for a loaded model: ``'onnxruntime'`` / ``'torchscript'``
    export it (dynamic size for light models) into ``folder`` (default: a temporary
    folder, removed at exit), check it against the model like ``tools/export.py`` does
    (``verify``; synthetic images, a few seconds) and open the file (TorchScript on the
    model's device, onnxruntime on CPU). The model in PyTorch itself is
    :func:`nicegan_plugin.apis.loading.translator_for` (a ``TorchTranslator``)."""
    if backend not in FORMAT_BACKENDS.values():
        raise ValueError(f'unknown backend {backend!r}; use pytorch, onnxruntime or '
                         'torchscript')
    if folder is None:
        import atexit
        import shutil
        import tempfile
        folder = tempfile.mkdtemp(prefix='nicegan_export_')
        atexit.register(shutil.rmtree, folder, True)
    fmt = 'onnx' if backend == 'onnxruntime' else 'torchscript'
    path = osp.join(folder, f'translator_{direction}.{fmt}')
    export_translator(model, path, direction, fmt, heatmap, dynamic_size=True, verify=verify)
    return open_translator(path, backend, str(model_device(model)))


# --------------------------------------------------------------------- export
def _example(spec: Dict[str, Any], batch: int = 2) -> torch.Tensor:
    h, w = spec['input']['height'], spec['input']['width']
    return torch.linspace(-1, 1, batch * 3 * h * w).view(batch, 3, h, w)


def _output_names(spec: Dict[str, Any]) -> List[str]:
    return [o['name'] for o in spec['outputs']]


def split_reductions(model) -> int:
    """Rewrite every multi-axis ``ReduceMean``/``ReduceSum`` (and ``GlobalAveragePool``)
    of an ONNX ``ModelProto`` as a chain of single-axis reductions, innermost axis first.

    The same mean/sum in real arithmetic (the groups have equal sizes), but onnxruntime's
    CPU reductions accumulate in plain float32: over the 4M values of a 512 px layer norm
    the variance came out 2.6e-3 relative off, which moved translations by 4e-4; chained
    reductions over <= 256 values each stay close to PyTorch's accuracy. Returns how many
    nodes were rewritten.
    """
    import onnx
    from onnx import helper, numpy_helper
    graph = model.graph
    opset = {o.domain: o.version for o in model.opset_import}.get('', 18)
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:
        if n.op_type == 'Constant' and n.attribute and n.attribute[0].name == 'value':
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    nodes, count, replaced = [], 0, set()
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axes, as_input = None, True
        if node.op_type in ('ReduceMean', 'ReduceSum'):
            if 'axes' in attrs:  # ReduceMean before opset 18, ReduceSum before 13
                axes, as_input = [int(a) for a in attrs.pop('axes')], False
            elif len(node.input) > 1 and node.input[1] in consts:
                axes = [int(a) for a in np.asarray(consts[node.input[1]]).ravel()]
        elif node.op_type == 'GlobalAveragePool':  # NCHW: mean over (2, 3), kept
            axes, attrs, as_input = [2, 3], {'keepdims': 1}, opset >= 18
        if not axes or len(axes) < 2 or min(axes) < 0:
            nodes.append(node)
            continue
        op = 'ReduceMean' if node.op_type == 'GlobalAveragePool' else node.op_type
        current = node.input[0]
        for i, axis in enumerate(sorted(axes, reverse=True)):  # keepdims=0 stays valid
            out = node.output[0] if i == len(axes) - 1 else f'{node.output[0]}__r{i}'
            if as_input:
                name = f'{node.output[0]}__axis{i}'
                graph.initializer.append(numpy_helper.from_array(
                    np.array([axis], dtype=np.int64), name))
                nodes.append(helper.make_node(op, [current, name], [out], **attrs))
            else:
                nodes.append(helper.make_node(op, [current], [out], axes=[axis], **attrs))
            current = out
        count += 1
        replaced.update(node.input[1:])
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for n in graph.node for name in n.input}
    unused = [t for t in graph.initializer if t.name in replaced and t.name not in used]
    for t in unused:  # axes tensors only the rewritten nodes read
        graph.initializer.remove(t)
    onnx.checker.check_model(model)
    return count


def _onnx_bytes(translator: nn.Module, spec: Dict[str, Any], opset: int) -> bytes:
    import json
    dim = torch.export.Dim
    shapes = {0: dim('batch', min=1)}
    if spec['input']['dynamic_size']:
        lo = spec['input']['min_size']
        shapes.update({2: dim('height', min=lo), 3: dim('width', min=lo)})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # exporter chatter (opset notes, deprecations)
        program = torch.onnx.export(
            translator, (_example(spec),), dynamo=True, external_data=False, verbose=False,
            input_names=['image'], output_names=_output_names(spec),
            dynamic_shapes={'image': shapes}, opset_version=opset)
    proto = program.model_proto
    split_reductions(proto)
    opsets = {o.domain: o.version for o in proto.opset_import}
    spec['opset'] = opsets.get('', opset)
    spec['exporter'] = 'torch.onnx.export(dynamo=True)'
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(spec)
    return proto.SerializeToString()


def _torchscript_bytes(translator: nn.Module, spec: Dict[str, Any]) -> bytes:
    import io
    import json
    spec['exporter'] = 'torch.jit.trace + torch.jit.freeze'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TracerWarnings of the size checks; jit deprecation
        traced = torch.jit.trace(translator, (_example(spec),), check_trace=False)
        frozen = torch.jit.freeze(traced.eval())
        buffer = io.BytesIO()
        torch.jit.save(frozen, buffer, _extra_files={f'{META_KEY}.json': json.dumps(spec)})
    return buffer.getvalue()


def verification_sizes(spec: Dict[str, Any]) -> List[Tuple[int, int]]:
    """Sizes to verify at: the training size, plus two non-square ones if dynamic."""
    inp = spec['input']
    h, w = inp['height'], inp['width']
    if not inp['dynamic_size']:
        return [(h, w)]
    m, lo = inp['size_multiple'], inp['min_size']

    def r(v: float) -> int:
        return max(lo, int(round(v / m)) * m)

    sizes = [(h, w), (r(h * 0.75), r(w * 1.25)), (r(h * 1.5), r(w * 0.5))]
    return list(dict.fromkeys(sizes))


def synthetic_images(count: int = 2, size: int = 96, seed: int = 0) -> List[np.ndarray]:
    """Smooth random RGB uint8 images, for verification when no photos are given."""
    rng = np.random.RandomState(seed)
    return [resize_rgb(rng.randint(0, 256, (6, 6, 3)).astype(np.uint8), (size, size))
            for _ in range(count)]


def verify_translator(backend: Translator, reference: Translator,
                      images: Sequence[np.ndarray], sizes: Sequence[Tuple[int, int]],
                      tolerance: float = TOLERANCE) -> List[Dict[str, Any]]:
    """Run both on ``images`` (RGB uint8, resized bilinearly) at each size and compare.

    The first size is run with batch 1, the others with all images as one batch.
    Translations must agree to ``tolerance`` max abs; heatmaps (unbounded sums) to
    ``tolerance`` relative to their largest magnitude. Raises
    :class:`VerificationError` listing every size; returns the per-size results.
    """
    results, bad = [], []
    for i, size in enumerate(sizes):
        batch = images[:1] if i == 0 else images
        x = to_model_range(np.stack([resize_rgb(im, size) for im in batch]))
        y, heat = backend.forward(x)
        y_ref, heat_ref = reference.forward(x)
        row = dict(size=list(size), batch=len(batch),
                   max_abs=float(np.abs(y - y_ref).max()))
        if heat is not None and heat_ref is not None:
            scale = max(1.0, float(np.abs(heat_ref).max()))
            row['heatmap_max_rel'] = float(np.abs(heat - heat_ref).max()) / scale
        results.append(row)
        if not row['max_abs'] <= tolerance or not row.get('heatmap_max_rel', 0) <= tolerance:
            bad.append(row)
    if bad:
        lines = '; '.join(f'{r["size"][0]}x{r["size"][1]}: max abs {r["max_abs"]:.3g}'
                          + (f', heatmap rel {r["heatmap_max_rel"]:.3g}'
                             if 'heatmap_max_rel' in r else '') for r in bad)
        raise VerificationError(f'{backend.origin} ({backend.name}) does not reproduce the '
                                f'PyTorch translator within {tolerance:g}: {lines}')
    return results


def export_translator(model: nn.Module, out: str, direction: str = 'a2b',
                      fmt: str = 'onnx', heatmap: bool = False, dynamic_size: bool = False,
                      opset: int = DEFAULT_OPSET, verify: bool = True,
                      verify_images: Optional[Sequence[np.ndarray]] = None,
                      tolerance: float = TOLERANCE,
                      log: Callable[[str], None] = lambda msg: None) -> Dict[str, Any]:
    """Export one direction of ``model`` to ``out`` and write ``<out>.json``.

    Args:
        fmt: ``'onnx'`` or ``'torchscript'``.
        dynamic_size: dynamic height/width (light models; the full model exports at
            its ``img_size`` and ``log`` says so).
        verify: check the written file against the PyTorch model with
            :func:`verify_translator` at :func:`verification_sizes` before it takes its
            name (written atomically); on a mismatch :class:`VerificationError` is raised
            and nothing is written to ``out``.
        verify_images: RGB uint8 photos for that (default: two synthetic images).

    Returns:
        the spec written to ``<out>.json`` (with ``file`` and ``verification``).
    """
    if fmt not in FORMATS:
        raise ValueError(f'unknown export format {fmt!r}; use one of {FORMATS}')
    if fmt == 'onnx' and opset < DEFAULT_OPSET:
        # the exporter writes opset 18 and down-converts; ONNX has no Pad adapter below 18
        raise ValueError(f'--opset {opset} is not supported: the exporter cannot convert '
                         f'this network below opset {DEFAULT_OPSET} (no adapter for Pad); '
                         f'use {DEFAULT_OPSET} or newer (onnxruntime >= 1.14 runs 18)')
    if not hasattr(unwrap(model), 'inference_generator'):
        raise ValueError(f'{type(unwrap(model)).__name__} is not a NICE-GAN model: only '
                         'NICE-GAN translators (encoder = discriminator front) can be exported')
    spec = translator_spec(model, direction, heatmap, dynamic_size)
    if dynamic_size and not spec['light']:
        h, w = spec['img_size']
        log(f'note: the full (light=False) model\'s MLP is tied to img_size; exporting at '
            f'its fixed size {h}x{w} (dynamic batch only)')
    translator = build_translator(model, direction, heatmap)
    if fmt == 'onnx':
        data = _onnx_bytes(translator, spec, opset)
        if spec['opset'] != opset:
            log(f'note: the exporter could not write opset {opset}; the file uses '
                f'opset {spec["opset"]}')
    else:
        data = _torchscript_bytes(translator, spec)
    spec['file'] = osp.basename(out)
    spec['verification'] = None
    # verified under a temporary name, renamed to ``out`` only then: a failed or killed
    # export leaves no file (and no earlier export replaced) under ``out``
    with atomic_path(out) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)
        if verify:
            images = list(verify_images) if verify_images else synthetic_images()
            # the reference runs on CPU too (CUDA convolutions may use TF32: ~1e-3)
            reference = model if model_device(model).type == 'cpu' else \
                copy.deepcopy(unwrap(model)).cpu()
            backend = open_translator(tmp)
            backend.origin = out  # for its messages
            results = verify_translator(backend, TorchTranslator(
                reference, direction, heatmap), images, verification_sizes(spec), tolerance)
            spec['verification'] = dict(
                reference=('PyTorch: the model\'s eval-mode translation (the EMA generator '
                           'when on), spectral norms unfolded'), tolerance=tolerance,
                images=f'{len(images)} {"given" if verify_images else "synthetic"} images',
                results=results)
    import json
    atomic_write(sidecar_path(out), json.dumps(spec, indent=2) + '\n')
    return spec

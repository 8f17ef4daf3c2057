"""CPU inference speed of one translator direction: PyTorch eager vs TorchScript vs
onnxruntime (the logic of tools/benchmark_inference.py).

The model is exported once with dynamic size (both formats, into a temporary folder),
then every backend translates the same batch at each (size, batch) pair: ``warmup``
untimed runs (TorchScript's profiling executor optimizes during its first runs), then
``iters`` timed runs: the median and the best wall-clock time, and the median CPU time
of the process (all its threads) per image, which other processes on a shared machine
disturb much less than the wall clock. Each row also records the backend's max abs
difference from eager PyTorch on that batch, so a speed-up is never bought with
different outputs.
"""
import os.path as osp
import statistics
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..deploy.backends import OnnxRuntimeTranslator, TorchScriptTranslator
from ..deploy.export import export_translator, synthetic_images
from ..inference.translator import TorchTranslator
from ..utils.pixels import to_model_range

BACKENDS = ('pytorch', 'torchscript', 'onnxruntime')


def benchmark_inference(model: nn.Module, direction: str = 'a2b',
                        sizes: Sequence[int] = (256, 512), batches: Sequence[int] = (1, 8),
                        backends: Sequence[str] = BACKENDS, iters: int = 3, warmup: int = 2,
                        threads: Optional[int] = None,
                        log: Callable[[str], None] = lambda msg: None) -> List[Dict[str, Any]]:
    """Time ``backends`` on square ``sizes`` x ``batches``; one dict per measurement
    (size, batch, backend, seconds per batch, images/s, max abs vs eager PyTorch).

    ``threads``: intra-op threads for torch and onnxruntime alike (default: torch's
    current setting). A full (non-light) model runs at its training size only.
    """
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise ValueError(f'unknown backends {sorted(unknown)}; use {BACKENDS}')
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    model = model.cpu().eval()
    runners = {'pytorch': TorchTranslator(model, direction, heatmap=False)}
    if not runners['pytorch'].dynamic_size:
        fixed = runners['pytorch'].image_size[0]
        if any(s != fixed for s in sizes):
            log(f'note: full model: only its training size {fixed} px is measured')
        sizes = [fixed]
    with tempfile.TemporaryDirectory() as tmp:
        for name, fmt in (('torchscript', 'torchscript'), ('onnxruntime', 'onnx')):
            if name in backends:
                path = osp.join(tmp, f'translator.{fmt}')
                export_translator(model, path, direction, fmt, dynamic_size=True, verify=False)
                runners[name] = (TorchScriptTranslator(path) if fmt == 'torchscript'
                                 else OnnxRuntimeTranslator(path, threads=threads))
        rows = []
        for size in sizes:
            for batch in batches:
                x = to_model_range(np.stack(synthetic_images(batch, size)))
                reference = runners['pytorch'].forward(x)[0]
                for name in backends:
                    row = _time(runners[name], x, iters, warmup)
                    row.update(size=size, batch=batch, backend=name, threads=threads)
                    row['max_abs_vs_pytorch'] = float(
                        np.abs(runners[name].forward(x)[0] - reference).max())
                    rows.append(row)
                    log(format_row(row))
    return rows


def _time(backend, x: np.ndarray, iters: int, warmup: int) -> Dict[str, float]:
    for _ in range(warmup):
        backend.forward(x)
    times, cpu = [], []
    for _ in range(max(1, iters)):
        start, start_cpu = time.perf_counter(), time.process_time()
        backend.forward(x)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    seconds = statistics.median(times)
    return dict(seconds=seconds, images_per_s=x.shape[0] / seconds,
                best_images_per_s=x.shape[0] / min(times),
                cpu_s_per_image=statistics.median(cpu) / x.shape[0])


def format_row(row: Dict[str, Any]) -> str:
    return (f'{row["size"]} px, batch {row["batch"]}, {row["backend"]}: '
            f'{row["seconds"]:.3f} s/batch, {row["images_per_s"]:.2f} img/s, '
            f'{row["cpu_s_per_image"]:.3f} CPU s/img, '
            f'max abs vs pytorch {row["max_abs_vs_pytorch"]:.1e}')


def markdown_table(rows: List[Dict[str, Any]]) -> str:
    """Rows grouped by (size, batch): images/s of each backend and its speed-up."""
    eager = {(r['size'], r['batch']): r['images_per_s'] for r in rows
             if r['backend'] == 'pytorch'}
    lines = ['| size | batch | backend | images/s (median) | best | speed-up vs eager '
             '| CPU s/image | max abs vs eager |', '|---|---|---|---|---|---|---|---|']
    for r in rows:
        base = eager.get((r['size'], r['batch']))
        speed = f'x{r["images_per_s"] / base:.2f}' if base else '-'
        lines.append(f'| {r["size"]} px | {r["batch"]} | {r["backend"]} | '
                     f'{r["images_per_s"]:.2f} | {r["best_images_per_s"]:.2f} | {speed} | '
                     f'{r["cpu_s_per_image"]:.3f} | {r["max_abs_vs_pytorch"]:.1e} |')
    return '\n'.join(lines)

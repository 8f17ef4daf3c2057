"""Two translation models on the same test images (the logic of ``tools/compare.py``).

For each model (config + checkpoint, e.g. NICE-GAN and the CycleGAN baseline):

- FID and KID x 100 in both directions from the config's own test evaluator, i.e. the
  numbers ``tools/test.py`` gives, on the test set of ``data_root`` (the metrics' image
  counts are set to that test set's);
- parameters: all of the model's networks, and those one translation uses (found by
  autograd: NICE-GAN's encoder is part of the source domain's discriminator);
- translation time per image (batch 1, median, after a warm-up) through
  ``model.translation(x, target_domain=...)``;
- translations of the first test images for one side-by-side grid.
"""
import json
import os
import os.path as osp
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn

from ..apis.loading import load_config, load_model
from ..apis.translation import translate_arrays
from ..engine.hooks.metrics_dump import NICEGANDumpMetricsHook
from ..engine.launch.runner_setup import validate_checkpoint
from ..inference.translator import model_image_size, other_domain
from ..utils.fileio import atomic_write
from ..utils.image_io import collect_images, read_rgb, resize_rgb, save_rgb
from ..utils.model_utils import eval_mode, model_domains, unwrap
from ..utils.pixels import ModelIO

#: metric result keys shown in the table, by metric kind
METRIC_KEYS = {'FID': 'fid', 'KID': 'kid_x100'}


@dataclass
class ModelResult:
    """What :func:`compare_models` measured for one model."""
    name: str
    config: str
    checkpoint: str
    metrics: Dict[str, float] = field(default_factory=dict)  # '<FID|KID> <src>2<tgt>'
    num_params: int = 0            # every network of the model
    translation_params: int = 0    # used by one translation (domains[0] -> domains[1])
    ms_per_image: float = float('nan')


@dataclass
class Comparison:
    """The results of :func:`compare_models` and the side-by-side grid (RGB uint8)."""
    domains: List[str]
    results: List[ModelResult]
    grid: np.ndarray

    def table(self) -> str:
        return comparison_table(self.results, self.domains)


def test_set_counts(data_root: str, domains: Sequence[str]) -> Dict[str, int]:
    """Number of test images per domain: ``testA`` holds ``domains[0]``, ``testB`` the other."""
    counts = {}
    for folder, domain in zip(('testA', 'testB'), domains):
        path = osp.join(data_root, folder)
        if not osp.isdir(path):
            raise FileNotFoundError(f'test folder not found: {path} (expected '
                                    f'{data_root}/{{testA,testB}})')
        counts[domain] = len(collect_images(path))
        if not counts[domain]:
            raise ValueError(f'no images in {path}')
    return counts


def evaluate_config(config: str, checkpoint: str, data_root: str, work_dir: str,
                    domains: Sequence[str]) -> Dict[str, float]:
    """FID / KID x 100 per direction (``'FID day2night'``, ...) from the config's test
    evaluator on ``data_root``'s test set, through MMEngine's Runner as in tools/test.py."""
    from mmengine.runner import Runner
    cfg = load_config(config).copy()
    counts = test_set_counts(data_root, domains)
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root
    wanted = {}
    for metric in cfg.get('test_evaluator', {}).get('metrics') or []:
        kind = next((k for k in METRIC_KEYS if k in str(metric.get('type'))), None)
        target = str(metric.get('fake_key', '')).replace('fake_', '', 1)
        if kind is None or target not in counts:
            continue
        source = other_domain(domains, target)
        metric.update(fake_nums=counts[source], real_nums=counts[target])
        wanted[f'{metric["prefix"]}/{METRIC_KEYS[kind]}'] = f'{kind} {source}2{target}'
    if not wanted:
        return {}
    cfg.update(work_dir=work_dir, load_from=checkpoint, resume=False, launcher='none',
               custom_hooks=[], experiment_name=f'compare_{osp.basename(work_dir)}_'
               f'{time.strftime("%Y%m%d_%H%M%S")}_{os.getpid()}')
    runner = Runner.from_cfg(cfg)
    validate_checkpoint(runner, checkpoint)
    recorder = NICEGANDumpMetricsHook()
    runner.register_hook(recorder, priority='LOWEST')
    runner.test()  # MMagic's MultiTestLoop returns None: metrics come through the hook
    return {name: float(recorder.metrics[key]) for key, name in wanted.items()
            if key in recorder.metrics}


def translation_parameters(model: nn.Module, target_domain: str) -> int:
    """Number of parameters one translation into ``target_domain`` depends on: those
    that get a gradient from its output (eval mode; the model is left unchanged)."""
    net = unwrap(model)
    params = list(net.parameters())
    flags = [p.requires_grad for p in params]
    training = [(m, m.training) for m in net.modules()]
    h, w = model_image_size(net)
    x = torch.zeros(1, 3, h, w, device=params[0].device)
    try:
        net.eval()
        for p in params:
            p.requires_grad_(True)
        with torch.enable_grad():
            out = net.translation(x, target_domain=target_domain)
            grads = torch.autograd.grad(out.float().sum(), params, allow_unused=True)
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
        for m, flag in training:
            m.training = flag
    return sum(p.numel() for p, g in zip(params, grads) if g is not None)


def time_translation(model: nn.Module, inputs: Dict[str, torch.Tensor],
                     warmup: int = 2) -> float:
    """Median milliseconds per image of ``model.translation`` at batch 1 over
    ``inputs[target_domain]`` (model-space (N, 3, H, W) source images)."""
    net = unwrap(model)
    sync = torch.cuda.synchronize if next(net.parameters()).is_cuda else (lambda: None)
    times = []
    with eval_mode(net):
        for target, batch in inputs.items():
            for i in range(-min(warmup, len(batch)), len(batch)):
                x = batch[max(i, 0):max(i, 0) + 1]
                sync()
                start = time.perf_counter()
                net.translation(x, target_domain=target)
                sync()
                if i >= 0:
                    times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def compare_models(models: Sequence[Tuple[str, str]], data_root: str, work_dir: str,
                   names: Optional[Sequence[str]] = None, num_grid: int = 4,
                   device: Optional[str] = None, metrics: bool = True) -> Comparison:
    """Measure each ``(config, checkpoint)`` on ``data_root``'s test set.

    The grid has, per direction, a row of the first ``num_grid`` source images, then one
    row of translations per model. All models must have the same two domains (``testA``
    holds the first). ``metrics=False`` skips FID/KID (no Inception run).
    """
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    loaded = [load_model(cfg, ckpt, device) for cfg, ckpt in models]
    domains = model_domains(loaded[0])
    for (cfg, _), model in zip(models, loaded):
        if model_domains(model) != domains:
            raise ValueError(f'{cfg}: domains {model_domains(model)} differ from {domains} '
                             f'of {models[0][0]}; the models must translate the same domains')
    names = list(names or _default_names(models, loaded))
    files = {d: [p for p, _ in collect_images(osp.join(data_root, folder))]
             for folder, d in zip(('testA', 'testB'), domains)}
    test_set_counts(data_root, domains)  # clear errors for missing/empty folders
    images = {d: [read_rgb(p) for p in paths] for d, paths in files.items()}
    results, rows = [], []
    for (cfg, ckpt), model, name in zip(models, loaded, names):
        result = ModelResult(name, cfg, ckpt)
        if metrics:
            result.metrics = evaluate_config(cfg, ckpt, data_root,
                                             osp.join(work_dir, _slug(name)), domains)
        net = unwrap(model)
        result.num_params = sum(p.numel() for p in net.parameters()) - _ema_params(net)
        result.translation_params = translation_parameters(model, domains[1])
        size = model_image_size(net)
        io = ModelIO(net)
        inputs = {other_domain(domains, s): io.to_input([resize_rgb(im, size) for im in ims])
                  for s, ims in images.items()}
        result.ms_per_image = time_translation(model, inputs)
        rows.append({other_domain(domains, s): translate_arrays(model, ims[:num_grid],
                                                            other_domain(domains, s),
                                                            keep_size=False)[0]
                     for s, ims in images.items()})
        results.append(result)
    return Comparison(domains, results, comparison_grid(images, rows, names, domains, num_grid))


def _ema_params(net: nn.Module) -> int:
    """Parameters of an optional EMA copy (not a network of its own)."""
    ema = getattr(net, 'generators_ema', None)
    return sum(p.numel() for p in ema.parameters()) if isinstance(ema, nn.Module) else 0


def _default_names(models: Sequence[Tuple[str, str]], loaded: Sequence[nn.Module]) -> List[str]:
    names = [type(unwrap(m)).__name__ for m in loaded]
    if len(set(names)) < len(names):
        names = [osp.splitext(osp.basename(cfg))[0] for cfg, _ in models]
    return names


def _slug(name: str) -> str:
    return ''.join(c if c.isalnum() or c in '-_.' else '_' for c in name)


def comparison_table(results: Sequence[ModelResult], domains: Sequence[str]) -> str:
    """Markdown table: FID and KID x 100 per direction, parameters, ms per image."""
    a, b = domains
    dirs = [f'{a}2{b}', f'{b}2{a}']
    head = ['model'] + [f'{k} {d}' for d in dirs for k in ('FID', 'KID×100')] + \
        ['parameters (all)', f'parameters ({a}→{b})', 'ms / image']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in results:
        cells = [r.name]
        for d in dirs:
            for k in ('FID', 'KID'):
                v = r.metrics.get(f'{k} {d}')
                cells.append('–' if v is None else f'{v:.2f}')
        cells += [f'{r.num_params / 1e6:.3f} M', f'{r.translation_params / 1e6:.3f} M',
                  f'{r.ms_per_image:.1f}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def comparison_grid(images: Dict[str, List[np.ndarray]],
                    translations: Sequence[Dict[str, List[np.ndarray]]],
                    names: Sequence[str], domains: Sequence[str], num_grid: int = 4,
                    tile: int = 96, label_width: int = 110) -> np.ndarray:
    """RGB uint8 grid: for each direction a row of source images, then one row per model
    (``translations[i][target]``), each row labelled on the left."""
    rows = []
    for src in domains:
        tgt = other_domain(domains, src)
        labelled = [(f'{src} (input)', images[src][:num_grid])]
        labelled += [(f'{name}: {src}->{tgt}', t[tgt][:num_grid])
                     for name, t in zip(names, translations)]
        for label, ims in labelled:
            tiles = [resize_rgb(im, (tile, tile)) for im in ims]
            tiles += [np.full((tile, tile, 3), 255, np.uint8)] * (num_grid - len(tiles))
            rows.append(np.concatenate([_label(label, tile, label_width)] + tiles, axis=1))
    return np.concatenate(rows, axis=0)


def _label(text: str, height: int, width: int) -> np.ndarray:
    """White tile with ``text`` wrapped at ': ' (black, small)."""
    tile = np.full((height, width, 3), 255, np.uint8)
    parts = text.replace(': ', ':\n').split('\n')
    for i, part in enumerate(parts):
        y = height // 2 + int((i - (len(parts) - 1) / 2) * 14) + 4
        cv2.putText(tile, part, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return tile


def run_comparison(models: Sequence[Tuple[str, str]], data_root: str, out_dir: str,
                   names: Optional[Sequence[str]] = None, num_grid: int = 4,
                   device: Optional[str] = None, metrics: bool = True) -> Dict[str, str]:
    """:func:`compare_models`, then write ``compare.md`` (the table), ``compare.json`` and
    ``compare_grid.png`` to ``out_dir``; returns their paths and the table."""
    os.makedirs(out_dir, exist_ok=True)
    comparison = compare_models(models, data_root, out_dir, names, num_grid, device, metrics)
    table = comparison.table()
    paths = dict(table=osp.join(out_dir, 'compare.md'), json=osp.join(out_dir, 'compare.json'),
                 grid=osp.join(out_dir, 'compare_grid.png'))
    atomic_write(paths['table'], table + '\n')
    atomic_write(paths['json'], json.dumps(dict(
        data_root=data_root, domains=comparison.domains,
        models=[asdict(r) for r in comparison.results]), indent=2) + '\n')
    save_rgb(paths['grid'], comparison.grid)
    return dict(paths, table_text=table)

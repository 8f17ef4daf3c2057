"""Training curves of one or several runs, drawn from the scalars the runs already wrote.

MMEngine's ``LocalVisBackend`` appends one JSON object per line to
``<work_dir>/<timestamp>/vis_data/scalars.json``: every ``default_hooks.logger.interval``
training iterations the losses, learning rates and timings (``step`` = iteration), after
each validation the metrics (``'<prefix>/<name>'`` keys, e.g. ``FID-horse-to-zebra/fid``,
``step`` = the iteration validated). A resumed run writes a new timestamp folder; the
folders are concatenated in time order, a later folder replacing the earlier ones from its
first step on (what it re-ran). Nothing is re-run: a run still in progress reads as far as
it got (a half-written last line is left out); a damaged line (garbage bytes after a crash)
is left out and named (file and line) in :attr:`RunScalars.skipped`.

:func:`load_run` reads a work dir into a :class:`RunScalars`; :func:`plot_runs` draws
runs into one matplotlib figure (Agg canvas; pyplot is not used, so the caller's backend
is untouched): discriminator and generator losses per domain (each head and term, a light
EMA over the raw values drawn faint behind), the D/G totals, the learning rates, and each
validation metric per direction with its best point marked (the iteration of the run's
``best_<key>_iter_<N>.pth`` when the checkpoint hook saved one, else the minimum). Runs
overlay: colour = scalar key, line style = run. Keys a model does not log (CycleGAN's
differ from NICE-GAN's) simply do not appear; panel titles say what they hold.
"""
import ast
import glob
import json
import math
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..utils.fileio import atomic_path

#: the file MMEngine's LocalVisBackend writes, under ``<work_dir>/<timestamp>/vis_data``
SCALARS_FILE = 'scalars.json'
#: bookkeeping keys of MMEngine's log rows: not curves
BOOKKEEPING = frozenset({'step', 'iter', 'epoch', 'time', 'data_time', 'memory'})
#: metric result names that only decompose another one (FID = mean + cov terms)
METRIC_PARTS = frozenset({'mean', 'cov', 'kid_std'})
#: metric result names whose minimum is the best (others: only a best_*.pth is marked)
LOWER_IS_BETTER = frozenset({'fid', 'kid', 'kid_x100', 'lpips', 'mae', 'mse'})
#: line style (and its name) of the 1st, 2nd, ... run in an overlay
RUN_STYLES = (('-', 'solid'), ('--', 'dashed'), (':', 'dotted'), ('-.', 'dash-dot'))
_BEST_CKPT = re.compile(r'^best_(?P<key>.+)_(?:iter|epoch)_(?P<step>\d+)\.pth$')


class CurvesError(ValueError):
    """A work dir that holds nothing to plot (the message names it and what to do)."""


@dataclass
class Series:
    """One scalar over training: ``steps[i]`` (iteration) -> ``values[i]``."""
    steps: List[int] = field(default_factory=list)
    values: List[float] = field(default_factory=list)


@dataclass
class RunScalars:
    """What :func:`load_run` read from one work dir."""
    name: str                                   # label in the figure
    work_dir: str
    files: List[str]                            # scalars.json files, oldest first
    train: Dict[str, Series]                    # losses, learning rates, ... per key
    val: Dict[str, Series]                      # '<prefix>/<name>' metrics per key
    best: Dict[str, List[int]] = field(default_factory=dict)  # key -> best_*.pth iterations
    domains: List[str] = field(default_factory=list)    # the model's, from the dumped config
    skipped: List[str] = field(default_factory=list)    # damaged lines left out (file, line)

    @property
    def last_step(self) -> int:
        steps = [s.steps[-1] for s in (*self.train.values(), *self.val.values()) if s.steps]
        return max(steps, default=0)


# ----------------------------------------------------------------------------- reading
def scalar_files(path: str) -> List[str]:
    """The ``scalars.json`` files of a work dir (oldest run first), or of one timestamp
    folder, or ``[path]`` for the file itself."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise CurvesError(f'work dir not found: {path}')
    own = osp.join(path, 'vis_data', SCALARS_FILE)
    if osp.isfile(own):  # a timestamp folder
        return [own]
    # timestamp folders are named %Y%m%d_%H%M%S: name order is time order
    return sorted(glob.glob(osp.join(path, '*', 'vis_data', SCALARS_FILE)))


def read_rows(path: str, skipped: Optional[List[str]] = None) -> List[dict]:
    """The JSON objects of a JSON-lines file, as far as they are readable.

    An unfinished last line (a run still writing it) is left out silently. A damaged line
    (bytes that are not UTF-8, e.g. after a crash or a disk error, or text that is not
    JSON) is left out and described in ``skipped`` (``'<file>: line N is ...'``), so the
    rest of the run still plots."""
    with open(path, 'rb') as f:
        lines = f.read().split(b'\n')
    rows = []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode('utf-8'))
        except UnicodeDecodeError as err:
            what = f'not UTF-8 text (byte {raw[err.start]:#04x} at column {err.start + 1})'
        except json.JSONDecodeError as err:
            if i == len(lines) - 1:  # no newline after it yet: still being written
                break
            what = f'not JSON ({err.msg})'
        else:
            if isinstance(row, dict) and 'step' in row:
                rows.append(row)
            continue
        if skipped is not None:
            skipped.append(f'{path}: line {i + 1} is {what}; left out')
    return rows


def concat_runs(chunks: Sequence[List[dict]]) -> List[dict]:
    """Rows of successive runs in one work dir as one history: each run's rows replace
    the earlier runs' rows from its own first step on (a resumed run re-does the
    iterations after its checkpoint; a run started over replaces all)."""
    rows: List[dict] = []
    for chunk in chunks:
        if not chunk:
            continue
        start = min(r['step'] for r in chunk)
        rows = [r for r in rows if r['step'] < start] + list(chunk)
    return rows


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def split_rows(rows: Iterable[dict]) -> Tuple[Dict[str, Series], Dict[str, Series]]:
    """(training scalars, validation metrics) by key. A row holding ``'<prefix>/<name>'``
    keys is a validation row (MMEngine's Evaluator names metrics so); ``train/``/``val/``
    prefixes (``log_with_hierarchy``) are honoured and removed."""
    train: Dict[str, Series] = {}
    val: Dict[str, Series] = {}
    for row in rows:
        step = int(row['step'])
        keys = [k for k in row if k not in BOOKKEEPING and _is_number(row[k])]
        is_val = any('/' in k and not k.startswith('train/') for k in keys)
        for key in keys:
            name = key.split('/', 1)[1] if key.startswith(('train/', 'val/')) else key
            if is_val and '/' not in name:
                continue  # timings of the validation loop
            series = (val if is_val else train).setdefault(name, Series())
            series.steps.append(step)
            series.values.append(float(row[key]))
    return train, val


def best_checkpoints(work_dir: str) -> Dict[str, List[int]]:
    """``{file-name key: [iterations]}`` of the ``best_<key>_iter_<N>.pth`` files that
    MMEngine's CheckpointHook (``save_best``) keeps in ``work_dir``; ``<key>`` is the
    metric key with ``/`` replaced by ``_``. Usually one per key; a run resumed from a
    checkpoint saved before that iteration's validation keeps the old one too (the
    checkpoint does not know it), so several can exist."""
    found: Dict[str, List[int]] = {}
    for path in glob.glob(osp.join(work_dir, 'best_*.pth')):
        m = _BEST_CKPT.match(osp.basename(path))
        if m:
            found.setdefault(m['key'], []).append(int(m['step']))
    return {k: sorted(v) for k, v in found.items()}


def config_domains(files: Sequence[str]) -> List[str]:
    """``model.reachable_domains`` of the config MMEngine dumped beside the newest
    ``scalars.json`` (``vis_data/config.py``), read without running it; [] if absent."""
    for path in reversed([osp.join(osp.dirname(f), 'config.py') for f in files]):
        if not osp.isfile(path):
            continue
        try:
            with open(path, encoding='utf-8') as f:
                tree = ast.parse(f.read())
        except (SyntaxError, ValueError):  # damaged: UnicodeDecodeError, NUL bytes
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == 'reachable_domains':
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    continue
                if isinstance(value, (list, tuple)) and all(isinstance(d, str) for d in value):
                    return list(value)
    return []


def _work_dir_of(path: str) -> str:
    """The work dir (checkpoints) of a work dir, a timestamp folder or a scalars file."""
    path = osp.normpath(osp.abspath(path))
    if osp.isfile(path):  # <work_dir>/<timestamp>/vis_data/scalars.json
        return osp.dirname(osp.dirname(osp.dirname(path)))
    if osp.isfile(osp.join(path, 'vis_data', SCALARS_FILE)):  # <work_dir>/<timestamp>
        return osp.dirname(path)
    return path


def load_run(work_dir: str, name: Optional[str] = None) -> RunScalars:
    """Everything :func:`plot_runs` draws for one run (see the module doc); ``work_dir``
    may also be one of its timestamp folders or a ``scalars.json`` file."""
    files = scalar_files(work_dir)
    skipped: List[str] = []
    rows = concat_runs([read_rows(f, skipped) for f in files])
    if not rows:
        if skipped:
            raise CurvesError(f'no readable training scalars in {work_dir}: '
                              f'{len(skipped)} damaged line(s), the first: {skipped[0]}')
        expected = osp.join(work_dir, '<timestamp>', 'vis_data', SCALARS_FILE)
        raise CurvesError(
            f'no training scalars in {work_dir}: expected {expected} with rows, which '
            'MMEngine writes from the first logger interval on (default_hooks.logger.'
            'interval); pass the --work-dir of a tools/train.py run')
    train, val = split_rows(rows)
    root = _work_dir_of(work_dir)
    by_file_key = best_checkpoints(root)
    best = {k: by_file_key[k.replace('/', '_')] for k in val
            if k.replace('/', '_') in by_file_key}
    label = name or osp.basename(root) or root
    return RunScalars(label, work_dir, files, train, val, best, config_domains(files),
                      skipped)


# ----------------------------------------------------------------------------- grouping
def ema(values: Sequence[float], weight: float) -> np.ndarray:
    """TensorBoard's smoothing: debiased exponential moving average (``weight`` in [0, 1):
    0 = raw values); non-finite values are skipped (and stay non-finite)."""
    out = np.full(len(values), np.nan)
    last, count = 0.0, 0
    for i, v in enumerate(values):
        if not math.isfinite(v):
            continue
        last, count = last * weight + (1 - weight) * v, count + 1
        out[i] = last / (1 - weight ** count)
    return out


def _role(key: str) -> Optional[str]:
    """'D' (discriminator/encoder update), 'G' (generator update), 'lr' or None."""
    if key == 'lr' or key.endswith('.lr') or key.endswith('_lr'):
        return 'lr'
    if 'loss' not in key:
        return None
    if re.search(r'(^|_)d(_|$)', key.replace('loss', '', 1)):
        return 'D'
    return 'G'


def _domain(key: str, domains: Sequence[str]) -> Optional[str]:
    """The domain a loss key is about (``loss_cycle_horse`` -> ``horse``), else None."""
    for d in sorted(domains, key=len, reverse=True):
        if re.search(rf'(^|_){re.escape(d)}(_|$)', key):
            return d
    return None


@dataclass
class Panel:
    """One subplot: its title, its y label and ``(run index, key)`` lines."""
    title: str
    ylabel: str
    lines: List[Tuple[int, str]] = field(default_factory=list)
    metric: bool = False   # validation metrics: points per validation, best one marked
    smooth: bool = True    # EMA over faint raw values (not for schedules)


def plan_panels(runs: Sequence[RunScalars]) -> List[Panel]:
    """The subplots for ``runs``, in reading order: D/G totals, D then G losses per domain,
    other losses, learning rates, then one panel per validation metric name."""
    domains: List[str] = []
    for run in runs:
        domains += [d for d in run.domains if d not in domains]
    totals = Panel('D and G totals, summed over domains (is D overpowering G?)', 'loss')
    per = {(role, d): Panel(
        f'discriminator/encoder losses, domain {d}: per head and sum' if role == 'D' else
        f'generator losses, domain {d}: per head, cycle, recon, sum', 'loss')
        for role in ('D', 'G') for d in domains}
    rest = {role: Panel(f'{"discriminator" if role == "D" else "generator"} losses '
                        '(no domain in the key)', 'loss') for role in ('D', 'G')}
    lrs = Panel('learning rates', 'lr', smooth=False)
    others = Panel('other training scalars', 'value')
    metrics: Dict[str, Panel] = {}
    for i, run in enumerate(runs):
        for key in run.train:
            role = _role(key)
            if role == 'lr':
                lrs.lines.append((i, key))
            elif role is None:
                others.lines.append((i, key))
            elif key in ('loss_d', 'loss_g', 'loss'):
                totals.lines.append((i, key))
            else:
                d = _domain(key, run.domains)
                (per[(role, d)] if d else rest[role]).lines.append((i, key))
        for key in run.val:
            name = key.rsplit('/', 1)[1]
            if name in METRIC_PARTS or (name == 'kid' and key[:-3] + 'kid_x100' in run.val):
                continue
            title = {'fid': 'FID per direction at each validation (lower is better)',
                     'kid_x100': 'KID x 100 per direction at each validation (lower is '
                     'better)'}.get(name, f'{name} per direction at each validation')
            metrics.setdefault(name, Panel(title, name, metric=True)).lines.append((i, key))
    order = [totals] + [per[('D', d)] for d in domains] + [per[('G', d)] for d in domains]
    order += [rest['D'], rest['G'], lrs, others]
    order += [metrics[n] for n in sorted(metrics, key=lambda n: (n != 'fid', n != 'kid_x100',
                                                                 n))]
    return [p for p in order if p.lines]


# ----------------------------------------------------------------------------- drawing
def best_point(run: RunScalars, key: str) -> Optional[Tuple[int, float, str]]:
    """(iteration, value, label) of a metric's best validation: the one of the
    ``best_*.pth`` the checkpoint hook kept for it (of several, the lowest value of a
    lower-is-better metric, else the latest), else the minimum of a lower-is-better
    metric (:data:`LOWER_IS_BETTER`), else None."""
    s = run.val[key]
    lower = key.rsplit('/', 1)[-1] in LOWER_IS_BETTER
    value_at = {st: v for st, v in zip(s.steps, s.values) if math.isfinite(v)}
    kept = [st for st in run.best.get(key, []) if st in value_at]
    if kept:
        step = min(kept, key=value_at.get) if lower else kept[-1]
        return step, value_at[step], f'best checkpoint, iter {step}'
    if not value_at or not lower:
        return None
    step = min(value_at, key=value_at.get)
    return step, value_at[step], f'minimum, iter {step}'


def plot_runs(runs: Sequence[RunScalars], smoothing: float = 0.6, ncols: int = 0):
    """One matplotlib ``Figure`` (Agg canvas) of ``runs`` (see the module doc).

    Lines carry ``gid``s for programmatic reading: ``raw:<run>:<key>`` (the logged
    values), ``smooth:<run>:<key>`` (the EMA), ``metric:<run>:<key>`` and
    ``best:<run>:<key>`` (the marked point), ``<run>`` being the run's index.
    """
    if not 0 <= smoothing < 1:
        raise ValueError(f'smoothing must be in [0, 1), got {smoothing}')
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = plan_panels(runs)
    if not panels:
        raise CurvesError('nothing to draw: no losses, learning rates or metrics in '
                          + ', '.join(r.work_dir for r in runs))
    ncols = ncols or (2 if len(panels) <= 4 else 3)
    nrows = max(1, math.ceil(len(panels) / ncols))
    fig = Figure(figsize=(6.4 * ncols, 3.9 * nrows + 0.6), layout='constrained')
    FigureCanvasAgg(fig)
    many = len(runs) > 1
    fig.suptitle(' vs '.join(f'{r.name} ({RUN_STYLES[i % len(RUN_STYLES)][1]} lines, to iter '
                             f'{r.last_step})' if many else
                             f'{r.name}: training curves to iter {r.last_step}'
                             for i, r in enumerate(runs)), fontsize=12)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        colours: Dict[str, str] = {}
        for i, key in panel.lines:
            run, style = runs[i], RUN_STYLES[i % len(RUN_STYLES)][0]
            colour = colours.setdefault(key, f'C{len(colours) % 10}')
            label = f'{run.name}: {key}' if many else key
            if panel.metric:
                s = run.val[key]
                ax.plot(s.steps, s.values, style, marker='o', ms=4, color=colour,
                        label=label, gid=f'metric:{i}:{key}')
                best = best_point(run, key)
                if best:
                    ax.plot([best[0]], [best[1]], marker='*', ms=14, color=colour,
                            mec='black', ls='none', label=f'{label} {best[2]}',
                            gid=f'best:{i}:{key}')
                continue
            s = run.train[key]
            if not panel.smooth:
                ax.plot(s.steps, s.values, style, color=colour, lw=1.5, label=label,
                        gid=f'raw:{i}:{key}')
                continue
            ax.plot(s.steps, s.values, style, color=colour, alpha=0.25, lw=0.8,
                    gid=f'raw:{i}:{key}')
            ax.plot(s.steps, ema(s.values, smoothing), style, color=colour, lw=1.5,
                    label=label, gid=f'smooth:{i}:{key}')
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel('iteration', fontsize=8)
        ax.set_ylabel(panel.ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncols=2 if len(panel.lines) > 6 else 1)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig


def curves_path(out: str) -> str:
    """The file :func:`save_curves` writes for ``out``: ``<out>/curves.png`` when ``out`` is
    an existing folder, ``<out>.png`` when it has no extension, else ``out``."""
    if osp.isdir(out):
        return osp.join(out, 'curves.png')
    return out if osp.splitext(out)[1] else out + '.png'


def save_curves(work_dirs: Sequence[str], out: str, names: Optional[Sequence[str]] = None,
                smoothing: float = 0.6) -> List[RunScalars]:
    """Read ``work_dirs`` and write their curves to :func:`curves_path` of ``out`` (PNG, or
    the format of its extension, e.g. ``.pdf``, ``.svg``), atomically; returns the runs."""
    if names is not None and len(names) != len(work_dirs):
        raise CurvesError(f'{len(names)} names for {len(work_dirs)} work dirs')
    runs = [load_run(w, n) for w, n in zip(work_dirs, names or [None] * len(work_dirs))]
    fig = plot_runs(runs, smoothing)
    path = curves_path(out)
    fmt = osp.splitext(path)[1][1:].lower()
    if fmt not in fig.canvas.get_supported_filetypes():
        raise CurvesError(f'cannot write {path}: matplotlib writes '
                          f'{", ".join(sorted(fig.canvas.get_supported_filetypes()))}, '
                          f'not {fmt!r}')
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format=fmt)
    return runs

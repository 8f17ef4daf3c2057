"""The shipped configs build what they built as classic configs (issue 26).

Every runnable config under configs/ and tests/configs/ at :data:`BASE` (the last commit with
the classic ``_base_`` configs and their ``runpy`` helper) is written out of git into a
temporary folder and loaded there with MMEngine's ``Config.fromfile``; the same path in this
checkout is loaded the way every consumer loads it now (``Config.fromfile`` + ``derive_keys``,
what ``NICEGANRunner`` and the tools do). Then, per config:

- every key MMEngine's ``Runner`` reads, the data set's values and the pipelines must be equal,
  key by key and type by type (a tuple is not a list);
- the objects built from them must be equal: each loader's dataset (on a small image set;
  its attributes, its pipeline's transforms, and what the pipeline makes of two samples with
  the same random seed), the metrics of both evaluators (prefixes, keys, sizes), the hooks
  (``save_best`` included) and the model (built on the meta device: its modules, parameter
  shapes and domains; its data preprocessor on the CPU).

The "before" side comes from the old files themselves, not from stored data. The configs also
load from any working directory, and ``Config.dump`` writes files that load again to the same
config (what a run leaves in its work dir), holding only values.
"""
import fnmatch
import glob
import hashlib
import inspect
import io
import os.path as osp
import random
import re
import subprocess
import tarfile
from typing import Any, Dict, List

import numpy as np
import pytest
import torch

#: the project root (the parametrization below lists its configs when tests are collected)
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: the last commit with the classic configs (configs/_base_/ and its runpy helper)
BASE = 'fb087551d6ee8e88490ab157cd8162dbc24bd46d'
CONFIG_DIRS = ('configs', 'tests/configs')
#: top-level keys compared besides the Runner's: the data set's values and the pipelines
VALUE_KEYS = ('domain_a', 'domain_b', 'data_root', 'num_test_a', 'num_test_b', 'img_size',
              'inception_path', 'train_pipeline', 'test_pipeline', 'custom_imports')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: differences made on purpose: {(config path pattern, key path prefix): why}
INTENDED = {
    ('tests/configs/tiny_h2z*.py', f'.{key}'): 'the top-level pipelines follow the config\'s '
    'img_size (64 px); at BASE they were the 256 px ones inherited from nicegan_h2z.py, '
    'which none of these loaders used (theirs are compared, and equal)'
    for key in ('train_pipeline', 'test_pipeline')}
#: runnable configs added since BASE (nothing to compare them with): {path: why}
ADDED = {'tests/configs/tiny_h2z_cam.py': 'tests/engine/test_tensorboard.py wrote a classic '
         'config on tiny_h2z.py; a classic config cannot inherit a read_base() one'}
INTENDED.update({
    (pattern, '.inception_path: added (None)'): 'the quickstart recipe inherits the paper '
    'recipe, which states inception_path = None, the value its metrics had at BASE too'
    for pattern in ('configs/*/*toy-day2night.py', 'tests/configs/tiny_cyclegan_sgd.py')})


def _git(*args: str) -> bytes:
    try:
        done = subprocess.run(['git', '-C', ROOT, *args], capture_output=True)
    except FileNotFoundError:
        pytest.fail('git not found: this test reads the configs at commit BASE from git')
    if done.returncode:
        pytest.fail(f'git {" ".join(args)} failed ({done.stderr.decode().strip()}): this test '
                    f'needs a clone with commit {BASE} (a shallow clone: git fetch --unshallow)')
    return done.stdout


def _runnable(rel: str) -> bool:
    """A config one trains or tests (not a ``_base_`` piece, not the old helper)."""
    return rel.endswith('.py') and '_base_' not in rel.split('/')


def _write_configs_at(rev: str, folder: str) -> List[str]:
    """The config folders as they were at ``rev``, under ``folder``; the runnable configs."""
    with tarfile.open(fileobj=io.BytesIO(_git('archive', rev, '--', *CONFIG_DIRS))) as tar:
        tar.extractall(folder, filter='data')
        names = [m.name for m in tar.getmembers() if m.isfile()]
    return sorted(n for n in names if _runnable(n))


def _current_configs() -> List[str]:
    paths = [p for d in CONFIG_DIRS
             for p in glob.glob(osp.join(ROOT, d, '**', '*.py'), recursive=True)]
    return sorted(r for r in (osp.relpath(p, ROOT) for p in paths) if _runnable(r))


def _load_old(path: str):
    from mmengine.config import Config
    return Config.fromfile(path, import_custom_modules=False)


def _load_new(path: str):
    from mmengine.config import Config

    from nicegan_plugin.engine import derive_keys
    return derive_keys(Config.fromfile(path))


def _compared_keys() -> List[str]:
    """What ``Runner.from_cfg`` passes on, plus :data:`VALUE_KEYS`."""
    from mmengine.runner import Runner
    params = inspect.signature(Runner.__init__).parameters
    return sorted((set(params) - {'self', 'cfg'}) | set(VALUE_KEYS))


def _differences(before: Any, after: Any, where: str = '') -> List[str]:
    """Every key path at which two resolved configs differ, with both values."""
    if type(before) is not type(after):
        return [f'{where}: {before!r} ({type(before).__name__}) became {after!r} '
                f'({type(after).__name__})']
    if isinstance(before, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            if key not in after:
                out.append(f'{where}.{key}: removed (was {before[key]!r})')
            elif key not in before:
                out.append(f'{where}.{key}: added ({after[key]!r})')
            else:
                out += _differences(before[key], after[key], f'{where}.{key}')
        return out
    if isinstance(before, (list, tuple)):
        if len(before) != len(after):
            return [f'{where}: {len(before)} items became {len(after)}: {after!r}']
        return [d for i, (b, a) in enumerate(zip(before, after))
                for d in _differences(b, a, f'{where}[{i}]')]
    return [] if before == after else [f'{where}: {before!r} became {after!r}']


def _read_keys(cfg) -> Dict[str, Any]:
    full = cfg.to_dict()
    return {k: full[k] for k in _compared_keys() if k in full}


# ------------------------------------------------------------------ built objects
def _signature(obj: Any, depth: int = 0) -> Any:
    """A comparable picture of a built object: plain values as they are, containers item by
    item, tensors and arrays by shape, dtype and a hash of their values, modules by their
    parameters' and buffers' names and shapes, other objects by class and attributes (memory
    addresses dropped)."""
    if isinstance(obj, (str, int, float, bool, type(None))):
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj).__name__, [_signature(x, depth) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _signature(v, depth) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return 'ndarray', obj.shape, str(obj.dtype), hashlib.sha256(obj.tobytes()).hexdigest()
    if isinstance(obj, torch.Tensor):
        values = None if obj.is_meta else \
            hashlib.sha256(obj.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
        return 'tensor', tuple(obj.shape), str(obj.dtype), values
    if isinstance(obj, torch.nn.Module):
        return (type(obj).__qualname__,
                [(n, tuple(p.shape)) for n, p in obj.named_parameters()],
                [(n, tuple(b.shape)) for n, b in obj.named_buffers()])
    text = re.sub(r' at 0x[0-9a-f]+', '', repr(obj))
    if depth > 4 or not hasattr(obj, '__dict__') or inspect.isroutine(obj) or \
            inspect.isclass(obj):
        return type(obj).__qualname__, text
    return type(obj).__qualname__, {k: _signature(v, depth + 1) for k, v in vars(obj).items()
                                    if not k.startswith('__')}


def _pipeline_outputs(dataset) -> Any:
    """What the dataset's pipeline makes of its first two samples, seeded the same way."""
    out = []
    for idx in range(2):
        random.seed(idx)
        np.random.seed(idx)
        torch.manual_seed(idx)
        out.append(_signature(dataset[idx]))
    return out


def _built(cfg, data_root: str) -> Dict[str, Any]:
    """The signatures of what a runner builds from ``cfg``: datasets (on ``data_root``),
    metrics, hooks, model, data preprocessor."""
    from mmagic.registry import DATASETS, HOOKS, METRICS, MODELS
    from mmengine.visualization import Visualizer
    Visualizer.get_instance('config-equivalence')  # MMagic's VisualizationHook takes it
    out: Dict[str, Any] = {}
    for loader in LOADERS:
        if cfg.get(loader):
            dataset_cfg = dict(cfg[loader].dataset.to_dict(), data_root=data_root)
            dataset = DATASETS.build(dataset_cfg)
            out[loader] = (_signature(dataset), _pipeline_outputs(dataset))
    for evaluator in ('val_evaluator', 'test_evaluator'):
        metrics = (cfg.get(evaluator) or {}).get('metrics') or []
        out[evaluator] = [_signature(METRICS.build(m)) for m in metrics]
    out['default_hooks'] = {name: _signature(HOOKS.build(hook))
                            for name, hook in cfg.default_hooks.items() if hook}
    out['custom_hooks'] = [_signature(HOOKS.build(h)) for h in cfg.get('custom_hooks') or []]
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    out['model'] = (_signature(model), repr(model),
                    [getattr(model, f'_{k}_domain{s}', None) for k, s in (
                        ('default', ''), ('reachable', 's'), ('related', 's'))])
    out['data_preprocessor'] = _signature(MODELS.build(cfg.model.data_preprocessor))
    return out


def _first_difference(before: Any, after: Any, where: str = '') -> str:
    """Where two signatures first differ (for the failure message)."""
    if type(before) is not type(after):
        return f'{where}: {str(before)[:200]} became {str(after)[:200]}'
    if isinstance(before, dict):
        for key in sorted(set(before) | set(after), key=str):
            if before.get(key, object) != after.get(key, object):
                return _first_difference(before.get(key), after.get(key), f'{where}.{key}')
    if isinstance(before, (list, tuple)) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after)):
            if b != a:
                return _first_difference(b, a, f'{where}[{i}]')
    return f'{where}: {str(before)[:300]} became {str(after)[:300]}'


@pytest.fixture(scope='module')
def old_configs(tmp_path_factory):
    """(folder, runnable configs) of BASE, written out of git."""
    folder = tmp_path_factory.mktemp('base')
    return folder, _write_configs_at(BASE, str(folder))


@pytest.fixture(scope='module')
def image_set(tmp_path_factory):
    """A small unpaired set (3 + 2 train, 2 + 2 test images, 80 px) every dataset is built on."""
    import cv2
    root = tmp_path_factory.mktemp('images')
    rng = np.random.RandomState(0)
    for split, n_a, n_b in (('train', 3, 2), ('test', 2, 2)):
        for dom, n in (('A', n_a), ('B', n_b)):
            (root / f'{split}{dom}').mkdir()
            for i in range(n):
                img = rng.randint(0, 256, (80, 96, 3)).astype(np.uint8)
                cv2.imwrite(str(root / f'{split}{dom}' / f'{i}.png'), img)
    return str(root)


def test_every_config_of_base_is_still_shipped(old_configs):
    _, configs = old_configs
    assert len(configs) >= 26, configs  # 23 in configs/ and 4 in tests/configs/
    assert configs == sorted(set(_current_configs()) - set(ADDED))


@pytest.mark.parametrize('rel', sorted(set(_current_configs()) - set(ADDED)))
def test_config_builds_what_it_built_at_base(rel, old_configs, image_set, data_check_cache):
    """The keys a runner reads are equal, and so are the objects built from them."""
    folder, _ = old_configs
    old, new = _load_old(str(folder / rel)), _load_new(osp.join(ROOT, rel))
    problems = [p for p in _differences(_read_keys(old), _read_keys(new))
                if not any(fnmatch.fnmatch(rel, pattern) and p.startswith(key)
                           for pattern, key in INTENDED)]
    assert not problems, f'{rel}: resolved keys changed since BASE:\n' + '\n'.join(problems)
    before, after = _built(old, image_set), _built(new, image_set)
    assert before.keys() == after.keys()
    for key in before:
        assert before[key] == after[key], \
            f'{rel}: built {_first_difference(before[key], after[key], key)}'


def test_the_comparison_sees_every_kind_of_difference(image_set, data_check_cache):
    """The checks above can fail: other domains, a tuple turned list, a key added/removed,
    another pipeline step, another model."""
    h2z = _load_new(osp.join(ROOT, 'configs', 'nicegan_h2z.py'))
    s2w = _load_new(osp.join(ROOT, 'configs', 'nicegan_s2w.py'))
    assert _differences(_read_keys(h2z), _read_keys(h2z)) == []
    found = _differences(_read_keys(h2z), _read_keys(s2w))
    for key in ('.domain_a', '.data_root', '.model.default_domain',
                '.val_evaluator.metrics[0].prefix', '.default_hooks.checkpoint.save_best[0]',
                '.train_dataloader.dataset.pipeline[7].mapping'):
        assert any(f.startswith(key) for f in found), (key, found)
    assert _differences(dict(scale=(1, 1)), dict(scale=[1, 1])) == [
        '.scale: (1, 1) (tuple) became [1, 1] (list)']
    assert _differences(dict(a=1), dict(b=1)) == ['.a: removed (was 1)', '.b: added (1)']
    built = _built(h2z, image_set)
    assert built['model'] != _built(s2w, image_set)['model']
    h2z.train_dataloader.dataset.pipeline[2].direction = 'vertical'
    h2z.model.generator.light = False
    changed = _built(h2z, image_set)
    assert changed['train_dataloader'] != built['train_dataloader']
    assert changed['model'] != built['model']
    assert changed['test_dataloader'] == built['test_dataloader']


@pytest.mark.parametrize('rel', _current_configs())
def test_config_loads_anywhere_and_its_dump_loads_again(rel, tmp_path, monkeypatch):
    """From another working directory; the dump (as a Runner writes it) holds plain values
    and loads again, as a classic config, to the same config."""
    monkeypatch.chdir(tmp_path)
    cfg = _load_new(osp.join(ROOT, rel))
    out = tmp_path / osp.basename(rel)
    cfg.dump(str(out))
    text = out.read_text()
    assert not re.search(r'^\s*(from|import) ', text, re.M) and ROOT not in text
    assert _differences(cfg.to_dict(), _load_new(str(out)).to_dict()) == []

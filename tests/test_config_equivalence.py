"""The configs resolve exactly as before their copy-paste was taken out (issue 17).

Every config under configs/ and tests/configs/ at :data:`BASE` (the last commit with the
copy-pasted configs) is written out of git into a temporary folder and resolved there with
MMEngine's ``Config.fromfile``; the same path in this checkout must resolve to an equal dict,
key by key and type by type (a tuple is not a list). The "before" side thus comes from the
old files themselves, not from stored data. A commit that means to change what a config
resolves to moves :data:`BASE` to itself. The configs also load from any working directory
and ``Config.dump`` writes files that load again to the same dict (what ``tools/train.py``
leaves in a work dir), with nothing of the helper module in them.
"""
import glob
import io
import os.path as osp
import subprocess
import tarfile
from typing import Any, List

import pytest

#: the project root (the parametrization below lists its configs when tests are collected)
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: the last commit with the copy-pasted dataset, toy and baseline configs
BASE = 'a5c22ca783227749f49b98248bf758f3b188e0f3'
CONFIG_DIRS = ('configs', 'tests/configs')
#: plain Python the configs call, not a config
HELPER = osp.join('configs', '_base_', 'config_helpers.py')


def _git(*args: str) -> bytes:
    try:
        done = subprocess.run(['git', '-C', ROOT, *args], capture_output=True)
    except FileNotFoundError:
        pytest.fail('git not found: this test reads the configs at commit BASE from git')
    if done.returncode:
        pytest.fail(f'git {" ".join(args)} failed ({done.stderr.decode().strip()}): this test '
                    f'needs a clone with commit {BASE} (a shallow clone: git fetch --unshallow)')
    return done.stdout


def _write_configs_at(rev: str, folder: str) -> List[str]:
    """The config folders as they were at ``rev``, under ``folder``; the configs' paths."""
    with tarfile.open(fileobj=io.BytesIO(_git('archive', rev, '--', *CONFIG_DIRS))) as tar:
        tar.extractall(folder, filter='data')
        names = [m.name for m in tar.getmembers() if m.isfile()]
    return sorted(n for n in names if n.endswith('.py') and n != HELPER)


def _current_configs() -> List[str]:
    paths = [p for d in CONFIG_DIRS
             for p in glob.glob(osp.join(ROOT, d, '**', '*.py'), recursive=True)]
    rels = sorted(osp.relpath(p, ROOT) for p in paths)
    return [r for r in rels if r != HELPER and not osp.basename(r).startswith('test_')]


def _resolve(path: str) -> dict:
    from mmengine.config import Config
    return Config.fromfile(path, import_custom_modules=False).to_dict()


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


def test_every_config_resolves_as_at_base(tmp_path):
    """Each config of BASE, resolved from BASE's files and from this checkout: equal dicts."""
    old_root = tmp_path / 'base'
    configs = _write_configs_at(BASE, str(old_root))
    assert len(configs) >= 30, configs  # 28 in configs/ (5 _base_) and 4 in tests/configs/
    problems = []
    for rel in configs:
        if not osp.isfile(osp.join(ROOT, rel)):
            problems.append(f'{rel}: removed')
            continue
        problems += [f'{rel}: {d}' for d in _differences(_resolve(str(old_root / rel)),
                                                         _resolve(osp.join(ROOT, rel)))]
    assert not problems, 'resolved configs changed since BASE:\n' + '\n'.join(problems)


def test_the_comparison_sees_every_kind_of_difference():
    """The check above can fail: other domains, a tuple turned list, a key added/removed."""
    h2z = _resolve(osp.join(ROOT, 'configs', 'nicegan_h2z.py'))
    s2w = _resolve(osp.join(ROOT, 'configs', 'nicegan_s2w.py'))
    assert _differences(h2z, h2z) == []
    found = _differences(h2z, s2w)
    for key in ('.domain_a', '.data_root', '.model.default_domain', '.key_mapping.mapping',
                '.metrics[0].prefix', '.default_hooks.checkpoint.save_best[0]',
                '.train_dataloader.dataset.pipeline[7].mapping'):
        assert any(f.startswith(key) for f in found), (key, found)
    assert _differences(dict(scale=(1, 1)), dict(scale=[1, 1])) == [
        '.scale: (1, 1) (tuple) became [1, 1] (list)']
    assert _differences(dict(a=1), dict(b=1)) == ['.a: removed (was 1)', '.b: added (1)']


@pytest.mark.parametrize('rel', _current_configs())
def test_config_loads_anywhere_and_its_dump_loads_again(rel, tmp_path, monkeypatch):
    """From another working directory; the dump (as a Runner writes it) holds plain values."""
    from mmengine.config import Config
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(osp.join(ROOT, rel), import_custom_modules=False)
    out = tmp_path / osp.basename(rel)
    cfg.dump(str(out))
    text = out.read_text()
    assert 'runpy' not in text and 'config_helpers' not in text and ROOT not in text
    assert _differences(cfg.to_dict(), _resolve(str(out))) == []

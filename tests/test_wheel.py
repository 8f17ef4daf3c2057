"""The wheel is a product: ``pip install .`` gives the plugin with its configs and tools.

A copy of the project's sources (what setup.py reads) is built into a wheel, and into a
source distribution and a wheel from that, with the environment's pip and setuptools
(``--no-build-isolation``: nothing is downloaded). The wheel is installed into a folder of its
own (``pip install --target``), and from a folder outside the project, with ``PYTHONPATH``
pointing at that installation only, every shipped config resolves from the installed
package's ``.mim/configs`` to the config this checkout resolves, and ``python -m
nicegan_plugin train`` trains from a shipped config (the quickstart's, on a small toy set).
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest

#: what setup.py reads to build (the rest of the checkout is not part of a build)
SOURCES = ('setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'requirements',
           'nicegan_plugin', 'configs', 'tools')
#: the shipped config the wheel trains from
TOY = 'configs/nicegan/nicegan_light-tiny_1xb4-600iters_toy-day2night.py'

RESOLVE = '''
import json, sys
from mmengine.config import Config
from nicegan_plugin.engine import derive_keys
out = {}
for path in sys.argv[2:]:
    out[path] = derive_keys(Config.fromfile(path)).to_dict()
json.dump(out, open(sys.argv[1], 'w'), sort_keys=True, default=repr)
'''


def run(args, cwd, env=None, timeout=300) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(map(str, args))}\n{out[-4000:]}'
    return out


def wheel_files(path: str):
    with zipfile.ZipFile(path) as z:
        return sorted(n for n in z.namelist() if '.dist-info/' not in n)


@pytest.fixture(scope='module')
def built(tmp_path_factory, project_root):
    """(wheel path, source copy): the wheel built from a copy of the sources."""
    tmp = tmp_path_factory.mktemp('wheel')
    src = tmp / 'src'
    src.mkdir()
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    for name in SOURCES:
        path = osp.join(project_root, name)
        if osp.isdir(path):
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy(path, src / name)
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check']
    run([*pip, 'wheel', '--no-deps', '--no-build-isolation', '-q', '.', '-w', str(tmp / 'dist')],
        cwd=src)
    wheels = os.listdir(tmp / 'dist')
    assert len(wheels) == 1 and wheels[0].endswith('.whl'), wheels
    return str(tmp / 'dist' / wheels[0]), src


def test_the_wheel_carries_the_package_configs_and_tools(built, project_root):
    wheel, _ = built
    files = wheel_files(wheel)
    shipped = [osp.relpath(osp.join(root, n), project_root)
               for top in ('configs', 'tools')
               for root, _, names in os.walk(osp.join(project_root, top))
               for n in names if n.endswith(('.py', '.sh'))]
    missing = [p for p in shipped if f'nicegan_plugin/.mim/{p}' not in files]
    assert not missing, f'not in the wheel: {missing}'
    package = [osp.relpath(osp.join(root, n), project_root)
               for root, _, names in os.walk(osp.join(project_root, 'nicegan_plugin'))
               for n in names if n.endswith('.py')]
    assert not [p for p in package if p not in files], 'package modules missing'
    assert any(f.startswith('nicegan_plugin/configs/_base_/') for f in files)
    assert not [f for f in files if '__pycache__' in f or f.endswith('.pyc')]


def test_a_wheel_built_from_the_sdist_holds_the_same_files(built, tmp_path):
    """MANIFEST.in puts into a source distribution what a wheel is built from."""
    wheel, src = built
    run([sys.executable, 'setup.py', '-q', 'sdist', '-d', str(tmp_path / 'sdist')], cwd=src)
    (sdist,) = os.listdir(tmp_path / 'sdist')
    run([sys.executable, '-m', 'pip', '--disable-pip-version-check', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', str(tmp_path / 'sdist' / sdist), '-w',
         str(tmp_path / 'dist')], cwd=str(tmp_path))
    (again,) = os.listdir(tmp_path / 'dist')
    assert wheel_files(str(tmp_path / 'dist' / again)) == wheel_files(wheel)


def test_the_installed_wheel_resolves_and_trains_its_configs(built, tmp_path, project_root,
                                                             data_check_cache):
    wheel, _ = built
    site = tmp_path / 'site'
    run([sys.executable, '-m', 'pip', '--disable-pip-version-check', 'install', '--no-deps',
         '--no-index', '-q', '--target', str(site), wheel], cwd=str(tmp_path))
    user = tmp_path / 'user'  # a folder of the user's, outside the project
    user.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), NICEGAN_FEAT_CACHE=str(tmp_path / 'feat'))
    where = run([sys.executable, '-c', 'import nicegan_plugin; print(nicegan_plugin.__file__)'],
                cwd=str(user), env=env).strip().splitlines()[-1]
    assert where == str(site / 'nicegan_plugin' / '__init__.py')

    # every shipped config, from the installation's .mim/configs, resolves as in the checkout
    configs = sorted(osp.relpath(osp.join(root, n), project_root)
                     for root, _, names in os.walk(osp.join(project_root, 'configs'))
                     for n in names if n.endswith('.py'))
    mim = site / 'nicegan_plugin' / '.mim'
    run([sys.executable, '-c', RESOLVE, str(tmp_path / 'installed.json'),
         *[str(mim / c) for c in configs]], cwd=str(user), env=env)
    run([sys.executable, '-c', RESOLVE, str(tmp_path / 'checkout.json'),
         *[osp.join(project_root, c) for c in configs]], cwd=str(user))
    installed = json.loads((tmp_path / 'installed.json').read_text())
    checkout = json.loads((tmp_path / 'checkout.json').read_text())
    assert len(installed) == len(configs) >= 23
    for c in configs:
        assert installed[str(mim / c)] == checkout[osp.join(project_root, c)], c

    # train from a shipped config, named as in the checkout, from the user's folder
    run([sys.executable, '-m', 'nicegan_plugin', 'make_toy_dataset', 'data/toy_day2night',
         '--n-train', '2', '--n-test', '2'], cwd=str(user), env=env)
    run([sys.executable, '-m', 'nicegan_plugin', 'train', TOY, '--work-dir', 'work',
         '--cfg-options', 'train_cfg.max_iters=1', 'num_test_a=2', 'num_test_b=2',
         'custom_hooks=[]', 'default_hooks.checkpoint.interval=1'], cwd=str(user), env=env)
    assert (user / 'work' / 'iter_1.pth').is_file()
    # the run's config holds the derived keys, the --cfg-options values included
    written = (user / 'work' / osp.basename(TOY)).read_text().replace('"', "'")
    assert "data_root='data/toy_day2night'" in written and "prefix='FID-day-to-night'" in written
    assert 'fake_nums=2' in written and 'fake_nums=8' not in written

"""The "your own data" recipe of docs/training.md, run as written on real photos.

The layout commands, the config and the train / test / translate commands are read from the
page (the fenced blocks after ``<!-- own-data:layout -->``, ``<!-- own-data:config -->`` and
``<!-- own-data:run -->``), so the page and this test cannot drift apart. They run with bash in
an empty folder outside the project (nothing of the checkout linked or copied in: the config
reaches its recipe through the installed package), with ``HOME`` holding ``photos/cats`` and
``photos/dogs``: real cat and dog photos of tests/data/photos. The one change: the train
command gets ``--cfg-options`` for a tiny model, 2 iterations and no in-training validation, so
the whole recipe runs on a CPU in minutes; test and translate run on the config the run wrote
into its work dir.
"""
import json
import math
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from typing import Dict, List, Tuple

import cv2

#: the page, relative to the project root
DOC = osp.join('docs', 'training.md')
#: photos per domain: the recipe holds out the first 10, two are left to train on
PHOTOS = 12
#: besides the tiny networks: 2 iterations, no validation, single-process loaders
FAST_OPTIONS = (
    ['train_cfg.max_iters=2', 'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']
    + [f'{loader}.{k}' for loader in ('train_dataloader', 'test_dataloader')
       for k in ('num_workers=0', 'persistent_workers=False')])


def recipe_blocks(text: str) -> Dict[str, Tuple[str, str]]:
    """``{name: (language, body)}`` of the fenced blocks marked ``<!-- own-data:NAME -->``."""
    pattern = re.compile(r'<!--\s*own-data:(\w+)\s*-->\s*\n```(\w*)\n(.*?)^```', re.M | re.S)
    return {m[1]: (m[2], m[3]) for m in pattern.finditer(text)}


def read_blocks(project_root: str) -> Dict[str, Tuple[str, str]]:
    with open(osp.join(project_root, DOC), encoding='utf-8') as f:
        blocks = recipe_blocks(f.read())
    assert set(blocks) == {'layout', 'config', 'run'}, \
        f'{DOC}: expected the own-data layout/config/run blocks, found {sorted(blocks)}'
    return blocks


#: the train command of the run block (the project's tools/train.py, or the same tool through
#: the installed package from any folder)
TRAIN = re.compile(r'(?:tools/train\.py|-m nicegan_plugin train)\b')


def with_options(commands: str, options: List[str]) -> str:
    """``commands`` with ``--cfg-options`` appended to its one train command."""
    lines = commands.splitlines()
    train = [i for i, line in enumerate(lines) if TRAIN.search(line)]
    assert len(train) == 1, f'expected one train command, got {len(train)}'
    line = lines[train[0]].split('#', 1)[0].rstrip()
    lines[train[0]] = f'{line} --cfg-options {" ".join(options)}'
    return '\n'.join(lines) + '\n'


def run_bash(script: str, cwd: str, env: Dict[str, str]) -> str:
    proc = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{script}\n---\n{out[-6000:]}'
    return out


def test_readme_shows_the_tested_recipe(project_root):
    """The README's short version is the page's config and train command, character for
    character."""
    blocks = read_blocks(project_root)
    with open(osp.join(project_root, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    assert f'```python\n{blocks["config"][1]}```' in readme
    train = next(line for line in blocks['run'][1].splitlines() if TRAIN.search(line))
    assert train.split('#')[0].strip() in readme


def test_the_recipe_as_written(tmp_path, project_root, photo_paths, tiny_model_cfg):
    blocks = read_blocks(project_root)
    # the reader's two folders of photos
    home = tmp_path / 'home'
    for animal, folder in (('cat', 'cats'), ('dog', 'dogs')):
        dst = home / 'photos' / folder
        dst.mkdir(parents=True)
        for path in photo_paths(animal, PHOTOS):
            shutil.copy(path, dst / osp.basename(path))
    # the reader's own folder, outside the project: nothing of the checkout in it
    project = tmp_path / 'mine'
    project.mkdir()
    assert not str(project).startswith(project_root)
    env = dict(os.environ, HOME=str(home),
               PATH=osp.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))

    # 1. layout
    run_bash(blocks['layout'][1], str(project), env)
    data = project / 'data' / 'cats2dogs'
    counts = {split: len(os.listdir(data / split))
              for split in ('trainA', 'trainB', 'testA', 'testB')}
    assert counts == dict(trainA=PHOTOS - 10, trainB=PHOTOS - 10, testA=10, testB=10)

    # 2. the config, saved where its first line says: a plain MMEngine config
    lang, config = blocks['config']
    assert lang == 'python'
    m = re.match(r'#\s*([\w./-]+\.py)\s*\n', config)
    assert m, 'the config block starts with "# <name>.py"'
    (project / m[1]).write_text(config)
    assert len(config.strip().splitlines()) <= 12, 'the recipe promises a config of a few lines'
    for trick in ('__import__', 'runpy', 'vars()', '{{'):
        assert trick not in config, f'the config uses {trick}'

    # 3. train (tiny), test, translate
    tiny = tiny_model_cfg()
    options = [f'model.{net}.{k}={tiny[net][k]}' for net, keys in (
        ('generator', ('base_channels', 'num_blocks')),
        ('discriminator', ('base_channels', 'num_layers'))) for k in keys]
    out = run_bash(with_options(blocks['run'][1], options + FAST_OPTIONS), str(project), env)
    work = project / 'work_dirs' / 'cats2dogs'
    assert (work / 'iter_2.pth').is_file(), out[-3000:]
    with open(work / 'test' / 'metrics.json') as f:
        metrics = json.load(f)
    for key in ('FID-cat-to-dog/fid', 'FID-dog-to-cat/fid',
                'KID-cat-to-dog/kid_x100', 'KID-dog-to-cat/kid_x100'):
        assert math.isfinite(metrics[key]) and metrics[key] > 0, (key, metrics)
    translations = work / 'test' / 'translations'
    assert sorted(os.listdir(translations / 'fake_dog')) == sorted(os.listdir(data / 'testA'))
    assert sorted(os.listdir(translations / 'fake_cat')) == sorted(os.listdir(data / 'testB'))
    # translate: every test cat as a dog, at the input's size, with its CAM heatmap
    out_dir = work / 'cat2dog'
    for name in os.listdir(data / 'testA'):
        stem, ext = osp.splitext(name)
        source = cv2.imread(str(data / 'testA' / name))
        for written in (name, f'{stem}_cam{ext}'):
            image = cv2.imread(str(out_dir / written))
            assert image is not None and image.shape == source.shape, written
        fake = cv2.imread(str(out_dir / name)).astype(int)
        assert abs(fake - source).mean() > 5, f'{name}: the "translation" is the input'

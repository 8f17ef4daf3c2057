"""The tools end bad input with one line on stderr (the traceback only with ``--debug`` or in
the run's log file), without third-party import notices; they refuse checkpoints with
non-finite weights and files that are not weights-only checkpoints; ``--resume`` with
nothing to resume stops."""
import os
import pickle
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import torch
from reliability_helpers import data_check_cache, data_options, photo_set  # noqa: F401

from conftest import ROOT, TINY_CONFIG


class RunsCode:
    """Unpickling this runs ``echo code ran`` (what a weights-only load must refuse)."""

    def __reduce__(self):
        return (os.system, ('echo code ran',))


def _opts(root):
    return ['--cfg-options'] + [f'{k}={v}' for k, v in data_options(root).items()]


def _last_line(proc):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ''


def test_tools_errors_are_one_clear_line(tmp_path, tiny):
    photos = photo_set(str(tmp_path / 'photos'))
    corrupt = str(tmp_path / 'corrupt')
    shutil.copytree(photos, corrupt)
    first = sorted(os.listdir(os.path.join(corrupt, 'trainA')))[0]
    with open(os.path.join(corrupt, 'trainA', first), 'rb') as f:
        head = f.read(3000)
    with open(os.path.join(corrupt, 'trainA', 'zzz.jpg'), 'wb') as f:
        f.write(head)
    cfg, ckpt, _ = tiny
    state = torch.load(ckpt, map_location='cpu')
    for v in state['state_dict'].values():
        if v.is_floating_point():
            v.fill_(float('nan'))
    nan_ckpt, junk = str(tmp_path / 'nan.pth'), str(tmp_path / 'junk.pth')
    torch.save(state, nan_ckpt)
    with open(junk, 'wb') as f:  # a pickle that would run a shell command if unpickled
        f.write(pickle.dumps(RunsCode(), protocol=2))
    work = str(tmp_path / 'work')
    typo = [TINY_CONFIG, '--work-dir', work, *_opts(photos), 'modle.generator.num_blocks=3']
    cases = {
        'typo': ('tools/train.py', typo),
        'resume_nothing': ('tools/train.py', [TINY_CONFIG, '--work-dir', work, '--resume',
                                              '--debug', *_opts(photos)]),
        'corrupt': ('tools/train.py', [TINY_CONFIG, '--work-dir', work, *_opts(corrupt)]),
        'nan_translate': ('tools/translate.py', [cfg, nan_ckpt, '--input',
                                                 os.path.join(photos, 'testA'),
                                                 '--output', str(tmp_path / 'out')]),
        'junk_test': ('tools/test.py', [cfg, junk, '--work-dir', str(tmp_path / 't'),
                                        *_opts(photos)]),
    }
    env = dict(os.environ, NICEGAN_DATA_CHECK_CACHE=str(tmp_path / 'cache'))

    def run(case):
        tool, args = case
        return subprocess.run([sys.executable, tool, *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
    with ThreadPoolExecutor(2) as pool:  # each start imports torch and MMagic: seconds
        procs = dict(zip(cases, pool.map(run, cases.values())))
    expected = {
        'typo': "error: --cfg-options modle.generator.num_blocks: unknown top-level key "
                "'modle' (did you mean 'model'?) (--debug shows the traceback)",
        'resume_nothing': f'error: --resume: nothing to resume in {work} ',
        'corrupt': f'error: 1 unreadable image(s) in {corrupt}/trainA: {corrupt}/trainA/'
                   'zzz.jpg (OSError: image file is truncated',
        'nan_translate': f'error: checkpoint {nan_ckpt} holds NaN/Inf weights',
        'junk_test': f'error: cannot read checkpoint {junk}: not a weights-only PyTorch '
                     'checkpoint (Trying to load unsupported GLOBAL',  # never unpickled
    }
    for name, proc in procs.items():
        assert proc.returncode != 0, (name, proc.stdout[-2000:], proc.stderr[-2000:])
        assert 'Warning' not in proc.stderr, (name, proc.stderr[-3000:])
        assert _last_line(proc).startswith(expected[name]), (name, proc.stderr[-2000:])
        if name != 'resume_nothing':  # the one run with --debug
            assert 'Traceback' not in proc.stderr, (name, proc.stderr[-3000:])
    assert len(procs['typo'].stderr.splitlines()) == 1, procs['typo'].stderr
    assert 'Traceback (most recent call last)' in procs['resume_nothing'].stderr
    assert 'weights_only=False' not in procs['junk_test'].stderr
    assert 'code ran' not in procs['junk_test'].stdout
    assert '(traceback in ' in _last_line(procs['corrupt'])  # the run's log file has it
    assert not os.path.exists(os.path.join(work, 'iter_2.pth'))

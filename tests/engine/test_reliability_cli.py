"""The tools end bad input with one line on stderr (the traceback only with ``--debug`` or in
the run's log file), without third-party import notices and without the config dump in front
of it; they refuse checkpoints with non-finite weights and files that are not weights-only
checkpoints; ``--resume`` with nothing to resume stops. Smaller things said on the way: a
1x1 image is translated with a warning; eval_folders.py skips an unreadable file, naming
it, and warns about folders too small for FID."""
import glob
import os
import pickle
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
import torch

pytestmark = pytest.mark.usefixtures('data_check_cache')


class RunsCode:
    """Unpickling this runs ``echo code ran`` (what a weights-only load must refuse)."""

    def __reduce__(self):
        return (os.system, ('echo code ran',))


def _last_line(proc):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ''


def test_tools_errors_are_one_clear_line(tmp_path, tiny, make_photo_set, data_root_args,
                                         tiny_config, project_root):
    def _opts(root):
        return ['--cfg-options', *data_root_args(root)]
    photos = make_photo_set(str(tmp_path / 'photos'))
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
    work = str(tmp_path / 'work')  # one work dir per run: a second run there is refused
    typo = [tiny_config, '--work-dir', work + '_typo', *_opts(photos),
            'modle.generator.num_blocks=3']
    small = tmp_path / 'small'  # a 1x1 image and a photo
    small.mkdir()
    cv2.imwrite(str(small / 'dot.png'), np.full((1, 1, 3), 200, np.uint8))
    shutil.copy(glob.glob(os.path.join(photos, 'testA', '*'))[0], small / 'photo.jpg')
    real, fake = tmp_path / 'real', tmp_path / 'fake'
    shutil.copytree(os.path.join(photos, 'trainA'), real)
    shutil.copytree(os.path.join(photos, 'trainB'), fake)
    shutil.copy(os.path.join(corrupt, 'trainA', 'zzz.jpg'), fake / 'zzz.jpg')
    cases = {
        'typo': ('tools/train.py', typo),
        'resume_nothing': ('tools/train.py', [tiny_config, '--work-dir', work, '--resume',
                                              '--debug', *_opts(photos)]),
        'corrupt': ('tools/train.py', [tiny_config, '--work-dir', work + '_corrupt',
                                       *_opts(corrupt)]),
        'nan_translate': ('tools/translate.py', [cfg, nan_ckpt, '--input',
                                                 os.path.join(photos, 'testA'),
                                                 '--output', str(tmp_path / 'out')]),
        'junk_test': ('tools/test.py', [cfg, junk, '--work-dir', str(tmp_path / 't'),
                                        *_opts(photos)]),
        'tiny_image': ('tools/translate.py', [cfg, ckpt, '--input', str(small), '--output',
                                              str(tmp_path / 'small_out'), '--no-progress']),
        'eval_folders': ('tools/eval_folders.py', [str(real), str(fake), '--kid-subsets', '2',
                                                   '--device', 'cpu']),
    }
    env = dict(os.environ, NICEGAN_DATA_CHECK_CACHE=str(tmp_path / 'cache'))

    def run(case):
        tool, args = case
        return subprocess.run([sys.executable, tool, *args], cwd=project_root, env=env,
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
    tiny_image, evaluation = procs.pop('tiny_image'), procs.pop('eval_folders')
    for name, proc in procs.items():
        assert proc.returncode != 0, (name, proc.stdout[-2000:], proc.stderr[-2000:])
        assert _last_line(proc).startswith(expected[name]), (name, proc.stderr[-2000:])
        if name != 'resume_nothing':  # the one run with --debug (third-party notices shown)
            assert 'Warning' not in proc.stderr, (name, proc.stderr[-3000:])
            assert 'Traceback' not in proc.stderr, (name, proc.stderr[-3000:])
    assert len(procs['typo'].stderr.splitlines()) == 1, procs['typo'].stderr
    assert 'Traceback (most recent call last)' in procs['resume_nothing'].stderr
    assert 'weights_only=False' not in procs['junk_test'].stderr
    assert 'code ran' not in procs['junk_test'].stdout
    assert '(traceback in ' in _last_line(procs['corrupt'])  # the run's log file has it
    assert not os.path.exists(os.path.join(work + '_corrupt', 'iter_2.pth'))
    # the config dump (MMEngine logs ~560 lines) went to the log file, not to the console
    log = _last_line(procs['corrupt']).split('(traceback in ')[1].rstrip(')')
    assert 'Config:' not in procs['corrupt'].stdout and 'Config:' in open(log).read()
    assert 'train_dataloader = dict(' not in procs['corrupt'].stdout

    # a 1x1 image is translated, with a warning that says it is tiny
    assert tiny_image.returncode == 0, tiny_image.stderr[-2000:]
    assert 'is only 1x1 px' in tiny_image.stderr, tiny_image.stderr[-2000:]
    assert os.path.isfile(tmp_path / 'small_out' / 'dot.png')
    # an unreadable file is skipped and named; 3-image folders get a warning
    assert evaluation.returncode == 0, evaluation.stderr[-2000:]
    err = evaluation.stderr
    assert f'skipped {fake / "zzz.jpg"}: cannot read image {fake / "zzz.jpg"}' in err, err
    assert 'warning: the real folder has only 3 images: FID and KID of so few' in err, err
    assert 'FID needs many images' in err and 'warning: the fake folder has only 3' in err
    assert 'FID ' in evaluation.stdout and 'skipped 1 unreadable file(s)' in evaluation.stdout

"""``--resume`` semantics: what is resumed, that no run writes over another run's
checkpoints, ``last_checkpoint`` relative to the work dir, temp files of interrupted saves
removed at the start, checkpoints written with the process's umask."""
import hashlib
import os
import shutil
import stat

import pytest

pytestmark = pytest.mark.usefixtures('data_check_cache')


@pytest.fixture(scope='module')
def photos(tmp_path_factory, make_photo_set):
    return make_photo_set(str(tmp_path_factory.mktemp('photos')))


def sha256(path) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_resume_never_writes_over_work_and_follows_the_work_dir(tmp_path, photos,
                                                              make_tiny_runner):
    def _train(work, photos, iters=4, **kw):
        runner = make_tiny_runner(work, photos, **{'train_cfg.max_iters': iters,
                                                   'default_hooks.checkpoint.interval': 2},
                                  **kw)
        runner.train()
        return runner

    from nicegan_plugin.engine.guards.resume import (
        ResumeError,
        find_resumable_checkpoint,
        resolve_resume,
    )
    work = tmp_path / 'w'
    work.mkdir()
    stale = work / '.iter_2.pth.tmp-k3j9x1'  # what an interrupted atomic save leaves
    stale.write_bytes(b'\0' * 4096)
    legacy = work / '.iter_2.pth.x7kq3_ab'  # the same, from the first release's writes
    legacy.write_bytes(b'\0' * 4096)
    kept = work / '.notes'  # any other hidden file stays
    kept.write_bytes(b'mine')
    old = os.umask(0o022)
    try:
        _train(work, photos)
    finally:
        os.umask(old)
    assert not stale.exists(), 'temp file of an interrupted save not removed'
    assert not legacy.exists(), 'temp file of an interrupted first-release save not removed'
    assert kept.read_bytes() == b'mine'
    assert stat.S_IMODE(os.stat(work / 'iter_4.pth').st_mode) == 0o644
    assert (work / 'last_checkpoint').read_text() == 'iter_4.pth'  # relative
    before = {n: sha256(work / n) for n in ('iter_2.pth', 'iter_4.pth')}

    # a new run in the same work dir stops before it writes anything
    with pytest.raises(ResumeError, match=r'already holds iter_2\.pth, iter_4\.pth, beyond '
                       r'iteration 0 where this run starts'):
        _train(work, photos)
    # `last_checkpoint` missing, emptied, or naming the files of the original of a copy
    copy = tmp_path / 'copy'
    shutil.copytree(work, copy)
    (copy / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))  # absolute, old style
    assert find_resumable_checkpoint(str(copy)) == str(copy / 'iter_4.pth')
    (copy / 'last_checkpoint').write_text('')
    assert find_resumable_checkpoint(str(copy)) == str(copy / 'iter_4.pth')
    os.remove(work / 'last_checkpoint')
    assert resolve_resume(str(work), 'auto') == (True, str(work / 'iter_4.pth'))
    # MMEngine's own auto-resume (resume=True, no load_from), as MMagic's tools use it
    runner = _train(work, photos, iters=6, resume=True)
    assert runner.iter == 6 and (work / 'iter_6.pth').is_file()
    assert {n: sha256(work / n) for n in before} == before
    # a stale last_checkpoint (naming iter_4 while iter_6 is there): refused, and the
    # advice is not "--resume" (what was just run) but the checkpoint to resume from
    (work / 'last_checkpoint').write_text('iter_4.pth')
    with pytest.raises(ResumeError) as info:
        _train(work, photos, iters=8, resume=True)
    assert str(info.value) == (
        f'{work} holds iter_6.pth, beyond iteration 4 of {work / "iter_4.pth"}, which this '
        'run resumed from: it would write over them; resume from the newest with --resume '
        f'{work / "iter_6.pth"}, or move the newer ones away to continue from 4')

    empty = tmp_path / 'empty'
    with pytest.raises(ResumeError, match='nothing to resume in .*auto-or-new'):
        resolve_resume(str(empty), 'auto')
    assert resolve_resume(str(empty), 'auto-or-new') == (False, None)
    with pytest.raises(ResumeError, match='checkpoint not found'):
        resolve_resume(str(empty), str(empty / 'iter_9.pth'))

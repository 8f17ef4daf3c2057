"""Training curves (tools/plot_curves.py) drawn from real runs' scalars.json: a tiny
NICE-GAN run with FID/KID validation that crashed after iteration 3 and was resumed (two
log folders overlapping at iteration 3), and a tiny CycleGAN run to overlay."""
import glob
import json
import math
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest

from nicegan_plugin.visualization.curves import (
    CurvesError,
    best_point,
    ema,
    load_run,
    plot_runs,
)

FID_KEYS = ['FID-horse-to-zebra/fid', 'FID-zebra-to-horse/fid']


class _Crash(Exception):
    pass


@pytest.fixture(scope='module')
def runs(tmp_path_factory, tiny_config_file, make_image_set, make_tiny_runner):
    """{'nice': work dir, 'cycle': work dir}: real training runs (see the module doc)."""
    from mmengine.config import Config
    from mmengine.hooks import Hook

    class CrashAfter3(Hook):
        priority = 'LOWEST'  # after the LoggerHook wrote iteration 3

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == 3:
                raise _Crash

    tmp = tmp_path_factory.mktemp('curves')
    data = make_image_set(str(tmp / 'data'), n_a=3, n_b=4, size=64)  # the metrics' sizes
    config = tiny_config_file('tiny_h2z_metrics')
    nice = {'train_cfg.max_iters': 4, 'train_cfg.val_interval': 2,
            'val_evaluator.metrics': Config.fromfile(config).test_evaluator.metrics,
            'default_hooks.checkpoint.save_best': FID_KEYS}
    first = make_tiny_runner(tmp / 'nicegan', data, config=config, **nice)
    first.register_hook(CrashAfter3())
    with pytest.raises(_Crash):
        first.train()  # iterations 1-3 logged, validated at 2, checkpoint iter_2.pth
    assert not osp.exists(tmp / 'nicegan' / 'iter_3.pth')
    make_tiny_runner(tmp / 'nicegan', data, config=config, resume=True, **nice).train()
    make_tiny_runner(tmp / 'cyclegan', data, config=tiny_config_file('tiny_cyclegan_sgd'),
                     **{'train_cfg.max_iters': 2}).train()
    return dict(nice=str(tmp / 'nicegan'), cycle=str(tmp / 'cyclegan'))


def _jsonl(path):
    return [json.loads(line) for line in open(path)]


def _lines(fig):
    """{gid: (xdata, ydata)} of every line with a gid, and {gid: axes title}."""
    data, titles = {}, {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_gid():
                data[line.get_gid()] = (list(line.get_xdata()), list(line.get_ydata()))
                titles[line.get_gid()] = ax.get_title()
    return data, titles


def test_losses_and_lrs_are_the_logged_values_of_both_log_folders(runs):
    files = sorted(glob.glob(osp.join(runs['nice'], '*', 'vis_data', 'scalars.json')))
    assert len(files) == 2, files  # the crashed run and the resumed one
    first, second = ([r for r in _jsonl(f) if 'loss_d' in r] for f in files)
    assert [r['step'] for r in first] == [1, 2, 3] and [r['step'] for r in second] == [3, 4]
    # the resumed folder replaces the crashed one from its first iteration (3) on
    expected = first[:2] + second

    run = load_run(runs['nice'])
    assert run.domains == ['horse', 'zebra'] and run.last_step == 4
    fig = plot_runs([run])
    lines, titles = _lines(fig)
    for key in ('loss_gan_d_horse_cam', 'loss_d_horse', 'loss_gan_g_zebra_local',
                'loss_cycle_zebra', 'loss_recon_horse', 'loss_d', 'loss_g', 'generators.lr',
                'discriminators.lr'):
        x, y = lines[f'raw:0:{key}']
        assert x == [1, 2, 3, 4], key
        assert y == [r[key] for r in expected], key
    for key in ('loss_d_horse', 'loss_cycle_zebra'):  # smoothed: TensorBoard's EMA, over raw
        x, y = lines[f'smooth:0:{key}']
        raw = [r[key] for r in expected]
        np.testing.assert_allclose(y, ema(raw, 0.6))
        assert y[0] == pytest.approx(raw[0]) and y[-1] != pytest.approx(raw[-1])
    assert 'smooth:0:generators.lr' not in lines  # a schedule is drawn as logged
    # each key sits in its panel: D terms of a domain together, G terms of the other
    assert 'discriminator' in titles['raw:0:loss_gan_d_horse_cam'] and \
        'horse' in titles['raw:0:loss_gan_d_horse_cam']
    assert titles['raw:0:loss_d_horse'] == titles['raw:0:loss_gan_d_horse_cam']
    assert 'generator' in titles['raw:0:loss_cycle_zebra'] and \
        'zebra' in titles['raw:0:loss_cycle_zebra']
    assert titles['raw:0:loss_gan_g_zebra_local'] == titles['raw:0:loss_cycle_zebra']
    assert titles['raw:0:loss_d'] == titles['raw:0:loss_g'] != titles['raw:0:loss_d_horse']
    assert 'learning rates' in titles['raw:0:generators.lr']


def test_fid_kid_at_each_validation_with_the_best_checkpoint_marked(runs):
    rows = [r for f in sorted(glob.glob(osp.join(runs['nice'], '*', 'vis_data',
                                                  'scalars.json')))
            for r in _jsonl(f) if any('/' in k for k in r)]
    assert [r['step'] for r in rows] == [2, 4]  # validated at 2 (crashed run) and 4
    lines, titles = _lines(plot_runs([load_run(runs['nice'])]))
    for key in FID_KEYS + ['KID-horse-to-zebra/kid_x100', 'KID-zebra-to-horse/kid_x100']:
        x, y = lines[f'metric:0:{key}']
        values = [r[key] for r in rows]
        assert x == [2, 4] and y == values
        best_step = [2, 4][int(np.argmin(values))]
        assert lines[f'best:0:{key}'] == ([best_step], [min(values)]), key
        if key in FID_KEYS:  # the checkpoint hook kept that iteration as the best
            assert best_step in load_run(runs['nice']).best[key]
            assert osp.isfile(osp.join(runs['nice'], f'best_{key.replace("/", "_")}_iter_'
                                                     f'{best_step}.pth'))
            assert 'FID' in titles[f'metric:0:{key}']
        else:
            assert 'KID x 100' in titles[f'metric:0:{key}']
    # FID's mean/cov parts and KID's std and unscaled value get no panel
    assert not any(g.endswith(('/mean', '/cov', '/kid_std', '/kid')) for g in lines)


def test_best_point_picks_the_best_of_several_kept_checkpoints(runs):
    """A run resumed from a checkpoint saved before that iteration's validation keeps the
    old best_*.pth too (MMEngine's hook does not know it): of several kept checkpoints the
    lower FID wins, whichever is later (here the run's worse one is added to the list)."""
    run = load_run(runs['nice'])
    key = FID_KEYS[0]
    s = run.val[key]
    worst = s.steps[int(np.argmax(s.values))]
    run.best[key] = sorted(set(run.best.get(key, [])) | {worst})
    step, value, label = best_point(run, key)
    assert value == min(s.values) and step == s.steps[int(np.argmin(s.values))]
    assert label == f'best checkpoint, iter {step}'


def test_overlay_with_cyclegan(runs):
    nice, cycle = load_run(runs['nice'], 'NICE-GAN'), load_run(runs['cycle'], 'CycleGAN')
    rows = [r for r in _jsonl(cycle.files[0]) if 'loss' in r]
    fig = plot_runs([nice, cycle])
    lines, titles = _lines(fig)
    assert 'NICE-GAN' in fig.get_suptitle() and 'CycleGAN' in fig.get_suptitle()
    # CycleGAN's own keys, with its values, beside NICE-GAN's in the shared panels
    for key in ('loss', 'cycle_loss', 'id_loss', 'loss_gan_d_day', 'loss_gan_g_night'):
        assert lines[f'raw:1:{key}'] == ([1, 2], [r[key] for r in rows]), key
    assert titles['raw:1:loss'] == titles['raw:0:loss_d']  # the totals
    assert titles['raw:1:cycle_loss'] == titles['raw:1:id_loss']
    assert 'no domain' in titles['raw:1:cycle_loss']
    assert 'night' in titles['raw:1:loss_gan_g_night']
    assert titles['raw:1:generators.lr'] == titles['raw:0:generators.lr']
    styles = {line.get_gid(): line.get_linestyle() for ax in fig.axes
              for line in ax.get_lines() if line.get_gid()}
    assert styles['smooth:0:loss_d'] == '-' and styles['smooth:1:loss'] == '--'
    legend = [t.get_text() for ax in fig.axes if ax.get_legend()
              for t in ax.get_legend().get_texts()]
    assert 'CycleGAN: cycle_loss' in legend and 'NICE-GAN: loss_d' in legend


def test_run_in_progress_and_damaged_files(runs, tmp_path):
    """Hand-made edge cases on a copy of the real run's first log folder: a half-written
    last line (a run still writing) is left out silently; a damaged earlier line (not
    JSON, or bytes that are not UTF-8) is left out and named (file and line), and the rest
    still plots."""
    src = sorted(glob.glob(osp.join(runs['nice'], '*', 'vis_data')))[0]
    folder = tmp_path / 'in_progress' / '20000101_000000' / 'vis_data'
    shutil.copytree(src, folder)
    path = folder / 'scalars.json'
    text = path.read_text()
    complete = load_run(str(tmp_path / 'in_progress'))
    path.write_text(text + text.splitlines()[0][:40])  # no newline: still being written
    partial = load_run(str(tmp_path / 'in_progress'))
    assert partial.train['loss_d'].steps == complete.train['loss_d'].steps == [1, 2, 3]
    assert partial.skipped == []
    assert load_run(str(path)).train['loss_d'].steps == [1, 2, 3]  # the file itself
    lines = text.splitlines()
    assert json.loads(lines[1])['step'] == 2 and 'loss_d' in json.loads(lines[1])
    path.write_text('\n'.join([lines[0], lines[1][:30]] + lines[2:]) + '\n')
    cut = load_run(str(tmp_path / 'in_progress'))
    assert cut.train['loss_d'].steps == [1, 3]
    assert len(cut.skipped) == 1 and cut.skipped[0].startswith(f'{path}: line 2 is not JSON (')
    # garbage bytes (a crash, a disk error) in place of line 2, and NUL bytes after line 3
    raw = [line.encode() for line in lines]
    path.write_bytes(b'\n'.join([raw[0], b'\xff\xfe\x81garbage' + raw[1][5:], raw[2],
                                 b'\x00' * 64] + raw[3:]) + b'\n')
    damaged = load_run(str(tmp_path / 'in_progress'))
    assert damaged.train['loss_d'].steps == [1, 3]
    assert damaged.train['loss_d'].values == [complete.train['loss_d'].values[i]
                                              for i in (0, 2)]
    assert damaged.skipped[0] == (f'{path}: line 2 is not UTF-8 text (byte 0xff at column 1); '
                                  'left out')
    assert damaged.skipped[1].startswith(f'{path}: line 4 is not JSON (')
    assert len(damaged.skipped) == 2
    path.write_bytes(b'\xff' * 100 + b'\n')  # nothing readable: one clear error
    with pytest.raises(CurvesError, match=r'no readable training scalars in .*in_progress: '
                       r'1 damaged line\(s\), the first: .*scalars.json: line 1 is not UTF-8'):
        load_run(str(tmp_path / 'in_progress'))


def test_empty_work_dir_is_one_clear_error(tmp_path):
    os.makedirs(tmp_path / 'empty' / '20000101_000000' / 'vis_data')
    with pytest.raises(CurvesError, match=r'no training scalars in .*empty.*tools/train.py'):
        load_run(str(tmp_path / 'empty'))
    with pytest.raises(CurvesError, match='work dir not found'):
        load_run(str(tmp_path / 'missing'))


def test_cli(runs, tmp_path, run_tools):
    empty = tmp_path / 'no_scalars'
    empty.mkdir()
    out = str(tmp_path / 'both.png')
    folder = tmp_path / 'plots'  # --out an existing folder: <folder>/curves.png
    folder.mkdir()
    damaged = tmp_path / 'damaged'  # a copy of the run with garbage bytes in one line
    shutil.copytree(runs['nice'], damaged)
    scalars = sorted(damaged.glob('*/vis_data/scalars.json'))[0]
    lines = scalars.read_bytes().split(b'\n')
    scalars.write_bytes(b'\n'.join(lines[:1] + [b'\x89\xff' + lines[1]] + lines[2:]))
    ok, bad, into_folder, garbage = run_tools('tools/plot_curves.py', [
        [runs['nice'], runs['cycle'], '--out', out, '--names', 'NICE-GAN', 'CycleGAN'],
        [str(empty)], [runs['nice'], '--out', str(folder)], [str(damaged)]])
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert f'curves: {out}' in ok.stdout
    img = cv2.imread(out)
    assert img is not None and img.shape[0] > 1000 and img.shape[1] > 1000
    assert img.std() > 20  # drawn, not blank
    run = load_run(runs['nice'])
    step, value, _ = best_point(run, FID_KEYS[0])
    assert f'{FID_KEYS[0]} {value:.4g} at iter {step}' in ok.stdout
    assert 'NICE-GAN: to iter 4 from 2 log folder(s)' in ok.stdout
    assert bad.returncode == 1
    err = bad.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f'error: no training scalars in {empty}')

    assert into_folder.returncode == 0, into_folder.stderr[-3000:]
    written = folder / 'curves.png'
    assert f'curves: {written}\n' in into_folder.stdout
    assert cv2.imread(str(written)) is not None
    assert not osp.exists(f'{folder}.png') and os.listdir(folder) == ['curves.png']

    assert garbage.returncode == 0, garbage.stderr[-3000:]
    assert garbage.stderr.strip().splitlines() == [
        f'warning: {scalars}: line 2 is not UTF-8 text (byte 0x89 at column 1); left out']
    assert cv2.imread(str(damaged / 'curves.png')) is not None
    assert 'damaged: to iter 4 from 2 log folder(s)' in garbage.stdout


def test_curves_path_and_atomic_write(runs, tmp_path, monkeypatch):
    """--out names: a folder gets curves.png inside, no extension gets .png, others keep
    theirs (and their format); a save that fails leaves the old file and no temp file."""
    from nicegan_plugin.visualization.curves import curves_path, save_curves
    assert curves_path(str(tmp_path)) == str(tmp_path / 'curves.png')
    assert curves_path(str(tmp_path / 'c')) == str(tmp_path / 'c.png')
    assert curves_path(str(tmp_path / 'c.pdf')) == str(tmp_path / 'c.pdf')
    save_curves([runs['cycle']], str(tmp_path / 'c.svg'))
    assert (tmp_path / 'c.svg').read_text().lstrip().startswith('<?xml')
    with pytest.raises(CurvesError, match=r'cannot write .*c\.xyz: matplotlib writes .*png'):
        save_curves([runs['cycle']], str(tmp_path / 'c.xyz'))
    old = tmp_path / 'old.png'
    old.write_bytes(b'old picture')

    def disk_full(fd):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', disk_full)
    with pytest.raises(OSError, match='No space left'):
        save_curves([runs['cycle']], str(old))
    assert old.read_bytes() == b'old picture'
    assert sorted(os.listdir(tmp_path)) == ['c.svg', 'old.png']


def test_ema_is_tensorboards_smoothing():
    values = [1.0, 3.0, float('nan'), 2.0]
    out = ema(values, 0.5)
    assert out[0] == 1.0 and out[1] == pytest.approx((0.25 * 1 + 0.5 * 3) / 0.75)
    assert math.isnan(out[2]) and out[3] == pytest.approx(
        ((0.25 * 1 + 0.5 * 3) * 0.5 + 0.5 * 2) / (1 - 0.5 ** 3))
    np.testing.assert_array_equal(ema(values[:2], 0.0), values[:2])

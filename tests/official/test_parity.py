"""The plugin computes what the official code computes (the parity fixtures of
tests/data/official_parity), and the check fails when a fixture value is off."""
import json
import shutil
import subprocess
import sys

import pytest
import torch

FIXTURES = ['light_ch3_64px', 'full_ch2_64px']


@pytest.mark.parametrize('name', FIXTURES)
def test_parity_fixture(name, fixture_dir):
    from nicegan_plugin.official.parity import run_parity
    report = run_parity(fixture_dir(name))
    groups = report.groups
    meta = json.load(open(f'{fixture_dir(name)}/meta.json'))
    # every kind of output was compared: all heads, every loss of every step, every tensor
    assert sum(g.startswith('eval/disA_real_A/') for g in groups) == 5
    losses = [g for g in groups if g.startswith('train/loss/')]
    assert len(losses) == 20 and all(groups[g]['count'] == meta['steps'] for g in losses)
    assert groups['train/lr']['count'] == 2 * meta['steps']
    final = torch.load(f'{fixture_dir(name)}/expected_train.pt', weights_only=True)
    for net, sd in final['final_state'].items():
        assert groups[f'final_state/{net}']['count'] == len(sd)
    assert any(k.endswith('weight_u') for k in final['final_state']['disA'])
    bad = {k: v for k, v in groups.items() if v['max_rel'] > 1e-8}
    assert not bad, report.table()


def test_fixtures_exercise_the_lr_decay(fixture_dir):
    """Each fixture runs steps at the full lr and decayed steps (the official schedule)."""
    for name in FIXTURES:
        losses = torch.load(f'{fixture_dir(name)}/expected_train.pt',
                            weights_only=True)['losses']
        lrs = [step['lr'] for step in losses]
        assert lrs[0] == 1e-4 and 0 < lrs[-1] < 1e-4, (name, lrs)


def _perturbed_copy(src, dst, edit):
    """A copy of fixture ``src`` in ``dst`` with ``edit(name -> loaded file)`` applied."""
    shutil.copytree(src, dst)
    files = {n: torch.load(f'{dst}/{n}', weights_only=True)
             for n in ('expected_eval.pt', 'expected_train.pt')}
    edit(files)
    for n, obj in files.items():
        torch.save(obj, f'{dst}/{n}')
    return str(dst)


def _bump(t, rel=1e-6):
    """``t`` with its largest-magnitude entry moved by ``rel`` of it."""
    t = t.clone()
    i = t.abs().flatten().argmax()
    t.view(-1)[i] *= 1 + rel
    return t


@pytest.mark.parametrize('what,group', [
    ('loss', 'train/loss/G_cycle_loss_A'),
    ('lr', 'train/lr'),
    ('weight', 'final_state/gen2B'),
    ('sn_vector', 'final_state/disB'),
    ('eval', 'eval/fake_B2A2B'),
])
def test_parity_fails_on_a_perturbed_fixture(what, group, tmp_path, fixture_dir):
    """A 1e-6 change of one expected value (a loss of the last step, the lr of a step,
    one weight or spectral-norm entry after training, one eval pixel) fails the check,
    in that value's group only."""
    from nicegan_plugin.official.fixture import load_final_state
    from nicegan_plugin.official.parity import run_parity
    src = fixture_dir(FIXTURES[0])

    def edit(files):
        train, evals = files['expected_train.pt'], files['expected_eval.pt']
        final = train['final_state']
        if what == 'loss':
            train['losses'][-1]['G_cycle_loss_A'] *= 1 + 1e-6
        elif what == 'lr':
            train['losses'][-1]['lr'] *= 1 + 1e-6
        elif what == 'weight':  # works for either encoding of final_state (README)
            weight = load_final_state(src)['gen2B']['UpBlock2.17.weight']
            final['gen2B']['UpBlock2.17.weight'].view(-1)[0] += 1e-6 * weight.abs().max()
        elif what == 'sn_vector':
            final['disB']['Dis1_1.1.weight_u'] = _bump(final['disB']['Dis1_1.1.weight_u'])
        else:
            evals['fake_B2A2B'] = _bump(evals['fake_B2A2B'])
    fixture = _perturbed_copy(src, tmp_path / 'fx', edit)
    report = run_parity(fixture)
    assert report.failed() == [group], report.table()
    assert not report.passed


def test_parity_cli_json(tmp_path, project_root, fixture_dir):
    out = tmp_path / 'parity.json'
    proc = subprocess.run([sys.executable, 'tools/parity_check.py', fixture_dir(FIXTURES[0]),
                           '--json', str(out)], cwd=project_root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'PASS' in proc.stdout
    data = json.loads(out.read_text())
    assert data['passed'] and data['worst_rel'] <= 1e-8


def test_parity_detects_a_wrong_model(tmp_path, monkeypatch, fixture_dir):
    """The check can fail: a model that ignores the CAM residual weight is caught."""
    from nicegan_plugin.models import discriminator
    from nicegan_plugin.official.parity import run_parity

    def wrong(self, x):  # drops the CAM residual (gamma * conv1x1(...))
        return torch.nn.functional.leaky_relu(x, 0.2)
    monkeypatch.setattr(discriminator.NICEGANDiscriminator, 'attend', wrong)
    report = run_parity(fixture_dir(FIXTURES[0]))
    assert report.worst() > 1e-4


def test_parity_cli_rejects_non_fixture(tmp_path, project_root):
    proc = subprocess.run([sys.executable, 'tools/parity_check.py', str(tmp_path)],
                          cwd=project_root, capture_output=True, text=True)
    assert proc.returncode == 2
    assert 'not a parity fixture folder' in proc.stderr

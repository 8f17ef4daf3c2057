"""The plugin computes what the official code computes (shared parity fixtures)."""
import json
import subprocess
import sys

import pytest
import torch


@pytest.mark.parametrize('name', ['light64', 'full64'])
def test_parity_fixture(name, fixture_dir):
    from nicegan_plugin.official.parity import run_parity
    report = run_parity(fixture_dir(name))
    groups = report.groups
    # every kind of output was compared
    assert any(g.startswith('eval/disA_real_A/') for g in groups)
    assert any(g.startswith('train/loss/G_recon_loss_B') for g in groups)
    assert groups['final_state/disA']['count'] > 10
    bad = {k: v for k, v in groups.items() if v['max_rel'] > 1e-8}
    assert not bad, report.table()


def test_parity_cli_json(tmp_path, project_root, fixture_dir):
    out = tmp_path / 'parity.json'
    proc = subprocess.run([sys.executable, 'tools/parity_check.py', fixture_dir('light64'),
                           '--json', str(out)], cwd=project_root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'PASS' in proc.stdout
    data = json.loads(out.read_text())
    assert data['passed'] and data['worst_rel'] <= 1e-8


def test_parity_detects_a_wrong_model(tmp_path, monkeypatch, fixture_dir):
    """The check can fail: a model that ignores the CAM residual weight is caught."""
    from nicegan_plugin.models import discriminator
    from nicegan_plugin.official.parity import run_parity
    orig = discriminator.NICEGANDiscriminator.attend

    def wrong(self, x):  # drops the CAM residual (gamma * conv1x1(...))
        return torch.nn.functional.leaky_relu(x, 0.2)
    monkeypatch.setattr(discriminator.NICEGANDiscriminator, 'attend', wrong)
    report = run_parity(fixture_dir('light64'))
    assert report.worst() > 1e-4
    monkeypatch.setattr(discriminator.NICEGANDiscriminator, 'attend', orig)


def test_parity_cli_rejects_non_fixture(tmp_path, project_root):
    proc = subprocess.run([sys.executable, 'tools/parity_check.py', str(tmp_path)],
                          cwd=project_root, capture_output=True, text=True)
    assert proc.returncode == 2
    assert 'not a parity fixture folder' in proc.stderr

"""One way for a tool to exit (nicegan_plugin/utils/cli.py): ``main()`` returns or raises;
``run_cli`` turns :class:`UsageError` into ``error: <msg>`` + status 2, anything else into
``error: <msg>`` + status 1."""
import glob
import os.path as osp
import re
import subprocess
import sys

import pytest

from nicegan_plugin.utils import cli
from nicegan_plugin.utils.cli import ToolError, UsageError, run_cli

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: the other ways out a tool must not take
OTHER_EXITS = re.compile(r'\bsys\.exit\(|\bSystemExit\b|print\(f?[\'"]error:|'
                         r'^\s+return [12]\s*$', re.M)


def _tools():
    return sorted(glob.glob(osp.join(ROOT, 'tools', '*.py')))


def test_tools_exit_through_run_cli_only():
    offenders = {}
    for path in _tools():
        name = osp.basename(path)
        text = open(path).read()
        assert re.search(r'^    run_cli\(main\)\s*\Z', text, re.M), f'{name}: no run_cli(main)'
        found = OTHER_EXITS.findall(text)
        if found:
            offenders[name] = found
    assert not offenders, offenders
    assert len(_tools()) > 10  # the glob found the tools


def _exit(main, capsys, monkeypatch):
    """run_cli(main)'s exit status and stderr lines."""
    monkeypatch.setattr(sys, 'argv', ['tool'])
    with pytest.raises(SystemExit) as exc:
        run_cli(main)
    return exc.value.code, capsys.readouterr().err.splitlines()


def _raises(err):
    def main():
        raise err
    return main


def test_run_cli_statuses(capsys, monkeypatch):
    monkeypatch.delenv('RANK', raising=False)
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    # as in a tool's own process: no MMEngine log file of an earlier test in this one
    monkeypatch.setattr(cli, '_log_files', lambda: [])
    assert _exit(lambda: {'fid': 1.0}, capsys, monkeypatch) == (0, [])
    assert _exit(lambda: None, capsys, monkeypatch) == (0, [])
    assert _exit(_raises(UsageError('--opset applies to --format onnx only')), capsys,
                 monkeypatch) == (2, ['error: --opset applies to --format onnx only'])
    assert _exit(_raises(ToolError('verification failed')), capsys, monkeypatch) == \
        (1, ['error: verification failed'])
    status, lines = _exit(_raises(ZeroDivisionError('division by zero')), capsys, monkeypatch)
    assert status == 1 and lines == [
        'error: ZeroDivisionError: division by zero (--debug shows the traceback)']
    assert _exit(_raises(KeyboardInterrupt()), capsys, monkeypatch) == \
        (130, ['error: interrupted'])


def test_run_cli_names_the_rank(capsys, monkeypatch):
    monkeypatch.setenv('RANK', '1')
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setattr(cli, 'RANK_ERROR_GRACE', 0.0)
    assert _exit(_raises(UsageError('bad')), capsys, monkeypatch) == \
        (2, ['error: [rank 1] bad'])


def _run(*args):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    return proc.returncode, proc.stderr.strip().splitlines()


def test_tools_with_bad_arguments(tmp_path):
    """Real tools: a usage error is one line and status 2, a failure one line and 1;
    argparse's own errors keep its status 2."""
    missing = tmp_path / 'missing.pt'
    assert _run('tools/convert_official_checkpoint.py', str(missing), str(tmp_path / 'o.pth')) \
        == (2, [f'error: no such file: {missing}'])
    assert _run('tools/export.py', 'c.py', 'k.pth', '--out', 'x.pt', '--format', 'torchscript',
                '--opset', '18') == (2, ['error: --opset applies to --format onnx only'])
    assert _run('tools/parity_check.py', str(tmp_path))[0] == 2
    status, lines = _run('tools/test.py', str(tmp_path / 'no.py'), str(missing))
    assert (status, lines[-1:]) == (1, [f'error: config file not found: {tmp_path / "no.py"}'])
    status, lines = _run('tools/export.py', '--no-such-flag')
    assert status == 2 and lines[-1].startswith('export.py: error:')

#!/usr/bin/env python
"""Check the plugin against a parity fixture made by the official NICE-GAN code.

Usage: python tools/parity_check.py FIXTURE_DIR [--json OUT] [--tolerance 1e-8]

Converts ``official_params_init.pt``, builds the model through the registry from the
converted config, runs it in float64 and compares every eval output, every loss term
at every step and every parameter / spectral-norm buffer after the last step.
Exits 1 if any group's max relative error is above the tolerance (``error: parity check
failed ...``), 2 if the folder is not a fixture. Fixtures: tests/data/official_parity (made
by tools/make_parity_fixture.py).
"""
import argparse
import json
import os.path as osp

from nicegan_plugin.utils.cli import ToolError, UsageError, run_cli
from nicegan_plugin.utils.fileio import atomic_write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('fixture', help='fixture folder (meta.json, official_params_init.pt, ...)')
    parser.add_argument('--json', help='write the per-group errors to this JSON file')
    parser.add_argument('--tolerance', type=float, default=1e-8,
                        help='max relative error per group (default 1e-8)')
    args = parser.parse_args()

    from nicegan_plugin.official.fixture import FIXTURE_FILES
    missing = [f for f in FIXTURE_FILES if not osp.isfile(osp.join(args.fixture, f))]
    if missing:
        raise UsageError(f'{args.fixture} is not a parity fixture folder: missing {missing}')

    from nicegan_plugin.official.parity import run_parity

    report = run_parity(args.fixture, args.tolerance)
    print(f'parity check of {args.fixture}')
    print(report.table())
    worst = report.worst()
    ok = report.passed
    print(f'worst relative error {worst:.3e} -> {"PASS" if ok else "FAIL"} '
          f'(tolerance {args.tolerance:g})')
    if args.json:
        atomic_write(args.json, json.dumps(dict(fixture=args.fixture, tolerance=args.tolerance,
                                                passed=ok, worst_rel=worst,
                                                groups=report.groups), indent=2))
    if not ok:
        raise ToolError(f'parity check failed: worst relative error {worst:.3e} is above '
                        f'the tolerance {args.tolerance:g} ({", ".join(report.failed())})')


if __name__ == '__main__':
    run_cli(main)

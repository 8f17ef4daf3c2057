#!/usr/bin/env python
"""Check the plugin against a parity fixture made by the official NICE-GAN code.

Usage: python tools/parity_check.py FIXTURE_DIR [--json OUT] [--tolerance 1e-8]

Converts ``official_params_init.pt``, builds the model through the registry from the
converted config, runs it in float64 and compares every eval output, every loss term
at every step and every parameter / spectral-norm buffer after the last step.
Exits 1 if any group's max relative error is above the tolerance.
"""
import argparse
import json
import os.path as osp
import sys

from nicegan_plugin.utils.cli import run_cli


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('fixture', help='fixture folder (meta.json, official_params_init.pt, ...)')
    parser.add_argument('--json', help='write the per-group errors to this JSON file')
    parser.add_argument('--tolerance', type=float, default=1e-8,
                        help='max relative error per group (default 1e-8)')
    args = parser.parse_args()
    required = ['meta.json', 'official_params_init.pt', 'inputs.pt', 'expected_eval.pt',
                'expected_train.pt']
    missing = [f for f in required if not osp.isfile(osp.join(args.fixture, f))]
    if missing:
        print(f'error: {args.fixture} is not a parity fixture folder: missing {missing}',
              file=sys.stderr)
        return 2

    from nicegan_plugin.official.parity import run_parity

    report = run_parity(args.fixture, args.tolerance)
    print(f'parity check of {args.fixture}')
    print(report.table())
    worst = report.worst()
    ok = report.passed
    print(f'worst relative error {worst:.3e} -> {"PASS" if ok else "FAIL"} '
          f'(tolerance {args.tolerance:g})')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(fixture=args.fixture, tolerance=args.tolerance, passed=ok,
                           worst_rel=worst, groups=report.groups), f, indent=2)
    return 0 if ok else 1


if __name__ == '__main__':
    run_cli(main)

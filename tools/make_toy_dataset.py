#!/usr/bin/env python
"""Write the built-in two-domain toy set of the quickstart (no download): day scenes
(trainA/testA) and night scenes (trainB/testB), see ``nicegan_plugin.datasets.toy_data``.

Usage: python tools/make_toy_dataset.py [OUT] [--n-train 48] [--n-test 8] [--size 64]
"""
import argparse

from nicegan_plugin.datasets.toy_data import make_toy_dataset
from nicegan_plugin.utils.cli import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out', nargs='?', default='data/toy_day2night')
    parser.add_argument('--n-train', type=int, default=48)
    parser.add_argument('--n-test', type=int, default=8)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    make_toy_dataset(args.out, args.n_train, args.n_test, args.size, args.seed)
    print(f'toy day->night set written to {args.out} '
          f'({args.n_train}+{args.n_train} train, {args.n_test}+{args.n_test} test, {args.size}px)')


if __name__ == '__main__':
    run_cli(main)

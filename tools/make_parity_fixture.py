#!/usr/bin/env python
"""Make an official-parity fixture by running the official NICE-GAN code.

Usage: python tools/make_parity_fixture.py --official-repo CLONE --out DIR [options]

CLONE is a checkout of github.com/alpc91/NICE-GAN-pytorch; its ``networks.py`` is
imported from there at run time and the training step of its ``NICE.py`` is replayed in
float64 on real photos (``--photos``: cat/ = domain A, dog/ = domain B). DIR gets the
official-format checkpoint, the inputs, the eval outputs, every loss of every step and
the state after the last step, plus ``meta.json`` (how it was made). Check the plugin
against it with ``tools/parity_check.py DIR``. Format and the commands that made the
committed fixtures: tests/data/official_parity/README.md.
"""
import argparse

from nicegan_plugin.utils.cli import run_cli


def main() -> None:
    from nicegan_plugin.official.fixture import FINAL_STATE_ENCODINGS, FixtureOptions
    d = FixtureOptions()
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--official-repo', required=True,
                   help='clone of github.com/alpc91/NICE-GAN-pytorch (its networks.py is used)')
    p.add_argument('--out', required=True, help='fixture folder to write')
    kind = p.add_mutually_exclusive_group()
    kind.add_argument('--light', dest='light', action='store_true', default=d.light,
                      help='light generator (global-average-pooled MLP input; default)')
    kind.add_argument('--full', dest='light', action='store_false',
                      help='full generator (MLP on the flattened features, tied to img size)')
    p.add_argument('--ch', type=int, default=d.ch, help=f'base channels ngf = ndf ({d.ch})')
    p.add_argument('--n-res', type=int, default=d.n_res,
                   help=f'generator residual blocks ({d.n_res})')
    p.add_argument('--n-dis', type=int, default=d.n_dis,
                   help=f'discriminator n_layers, >= 6 ({d.n_dis})')
    p.add_argument('--img-size', type=int, default=d.img_size,
                   help=f'square image size, >= 64 ({d.img_size})')
    p.add_argument('--batch-size', '--batch', type=int, default=d.batch_size,
                   help=f'training batch size ({d.batch_size})')
    p.add_argument('--steps', type=int, default=d.steps,
                   help=f'training steps run and recorded ({d.steps})')
    p.add_argument('--iteration', type=int, default=d.iteration,
                   help='schedule length (the official --iteration): the lr decays linearly '
                        f'after iteration // 2 steps ({d.iteration})')
    p.add_argument('--seed', type=int, default=d.seed, help=f'torch.manual_seed ({d.seed})')
    p.add_argument('--photos', default=d.photos,
                   help=f'folder with cat/ and dog/ photos ({d.photos})')
    p.add_argument('--photo-offset', type=int, default=d.photo_offset,
                   help='skip this many photos (sorted by name) in each folder '
                        f'({d.photo_offset})')
    p.add_argument('--eval-batch', type=int, default=d.eval_batch,
                   help='images of the first batch whose eval-mode outputs are stored '
                        f'({d.eval_batch})')
    p.add_argument('--final-state', choices=FINAL_STATE_ENCODINGS, default=d.final_state,
                   help='how the state after training is stored: float64, or delta32 '
                        '(float32 differences from the initial weights, float64 spectral-'
                        f'norm vectors; half the size) ({d.final_state})')
    p.add_argument('--lr', type=float, default=d.lr, help=f'({d.lr:g})')
    p.add_argument('--weight-decay', type=float, default=d.weight_decay,
                   help=f'({d.weight_decay:g})')
    p.add_argument('--adv-weight', type=int, default=d.adv_weight, help=f'({d.adv_weight})')
    p.add_argument('--cycle-weight', type=int, default=d.cycle_weight,
                   help=f'({d.cycle_weight})')
    p.add_argument('--recon-weight', type=int, default=d.recon_weight,
                   help=f'({d.recon_weight})')
    args = vars(p.parse_args())
    repo, out = args.pop('official_repo'), args.pop('out')

    from nicegan_plugin.official.fixture import make_fixture
    meta = make_fixture(repo, out, FixtureOptions(**args))
    print(f'wrote {out} (official commit {meta["official_commit"]}, torch '
          f'{meta["torch_version"]})')


if __name__ == '__main__':
    run_cli(main)

#!/usr/bin/env python
"""Time one NICE-GAN training iteration: the plugin's train step vs the official order.

The "official" step is the loop of the official NICE.py written against the same
networks: generators run with autograd in the D step and their outputs are detached,
the G step re-runs full discriminator forwards on the real images (only ``z`` is used)
and back-propagates into every discriminator parameter (gradients that D_optim's
next ``zero_grad`` throws away). The plugin's step skips that work:

- generators under ``torch.no_grad()`` in the D step;
- discriminators frozen (``requires_grad_(False)``) in the G step: no D weight grads;
- in the G step the real images go through the encoder only, and the heads' spectral-
  norm power iterations are replayed without computing the heads.

Both start from the same weights and take the same data; after the timed iterations the
script checks that their weights agree (float32, different op order: ~1e-6), so the
speed-up is not bought with different numbers.

Usage: python tools/benchmark.py [--img-size 256 --ch 64 --n-res 6 --n-dis 7 --light]
       [--batch 1] [--iters 5] [--warmup 1] [--device cpu|cuda] [--json OUT]
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def official_step(model, real, optim, weights):
    """The official NICE.py iteration (one D update, one G update)."""
    import torch
    import torch.nn.functional as F
    gens, dis = model.generators, model.discriminators
    a, b = model.domains
    mse = F.mse_loss

    def adv_d(real_out, fake_out):
        return sum(mse(r, torch.ones_like(r)) + mse(f, torch.zeros_like(f))
                   for r, f in ((real_out[1], fake_out[1]), (real_out[2], fake_out[2]),
                                (real_out[0], fake_out[0])))

    d_opt, g_opt = optim['discriminators'], optim['generators']
    d_opt.zero_grad()
    ra, rb = dis[a](real[a]), dis[b](real[b])
    fake_b, fake_a = gens[b](ra.z).detach(), gens[a](rb.z).detach()
    fa, fb = dis[a](fake_a), dis[b](fake_b)
    loss_d = weights['adv'] * (adv_d(ra, fa) + adv_d(rb, fb))
    loss_d.backward()
    d_opt.step()

    g_opt.zero_grad()
    za, zb = dis[a](real[a]).z, dis[b](real[b]).z
    fake_b, fake_a = gens[b](za), gens[a](zb)
    fa, fb = dis[a](fake_a), dis[b](fake_b)
    loss_g = 0
    for d, out, cyc, rec in ((a, fa, gens[a](fb.z), gens[a](za)),
                             (b, fb, gens[b](fa.z), gens[b](zb))):
        adv = sum(mse(x, torch.ones_like(x)) for x in (out[1], out[2], out[0]))
        loss_g = loss_g + weights['adv'] * adv + weights['cycle'] * F.l1_loss(cyc, real[d]) \
            + weights['recon'] * F.l1_loss(rec, real[d])
    loss_g.backward()
    g_opt.step()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--img-size', type=int, default=128)
    parser.add_argument('--ch', type=int, default=32)
    parser.add_argument('--n-res', type=int, default=6)
    parser.add_argument('--n-dis', type=int, default=7)
    parser.add_argument('--full', action='store_true', help='non-light generator')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default=None)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--json', help='write the results here')
    args = parser.parse_args()

    import torch
    import nicegan_plugin  # noqa: F401
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmagic.registry import MODELS
    init_default_scope('mmagic')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    torch.manual_seed(0)
    cfg = dict(
        type='NICEGAN',
        data_preprocessor=dict(type='DataPreprocessor', mean=127.5, std=127.5,
                               output_channel_order='RGB'),
        generator=dict(type='NICEGANGenerator', base_channels=args.ch, num_blocks=args.n_res,
                       img_size=args.img_size, light=not args.full),
        discriminator=dict(type='NICEGANDiscriminator', base_channels=args.ch,
                           num_layers=args.n_dis),
        default_domain='B', reachable_domains=['A', 'B'], related_domains=['A', 'B'])
    optim_cfg = dict(constructor='MultiOptimWrapperConstructor', **{
        g: dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4))
        for g in ('generators', 'discriminators')})
    base = MODELS.build(cfg).to(device).train()
    models = {'official order': copy.deepcopy(base), 'plugin': copy.deepcopy(base)}
    optims = {k: build_optim_wrapper(m, optim_cfg) for k, m in models.items()}
    weights = dict(adv=1.0, cycle=10.0, recon=10.0)
    gen = torch.Generator().manual_seed(1)
    batches = [{d: (torch.rand(args.batch, 3, args.img_size, args.img_size, generator=gen)
                    * 2 - 1).to(device) for d in 'AB'} for _ in range(args.warmup + args.iters)]

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    times = {k: [] for k in models}
    for i, real in enumerate(batches):
        for name, model in models.items():  # interleaved: same machine load for both
            sync()
            t0 = time.perf_counter()
            if name == 'plugin':
                model.train_on_batch(real, optims[name])
            else:
                official_step(model, real, optims[name], weights)
            sync()
            if i >= args.warmup:
                times[name].append(time.perf_counter() - t0)

    ref = models['official order'].state_dict()
    max_rel = max(((v - ref[k]).abs().max() / ref[k].abs().max().clamp_min(1e-12)).item()
                  for k, v in models['plugin'].state_dict().items()
                  if v.is_floating_point())
    result = dict(device=str(device), threads=torch.get_num_threads(), img_size=args.img_size,
                  ch=args.ch, n_res=args.n_res, n_dis=args.n_dis, light=not args.full,
                  batch=args.batch, iters=args.iters,
                  seconds_per_iter={k: statistics.median(v) for k, v in times.items()},
                  weights_max_rel_diff=max_rel)
    off, ours = (result['seconds_per_iter'][k] for k in ('official order', 'plugin'))
    result['speedup'] = off / ours
    print(f'device {device}, {result["threads"]} threads, {args.img_size}px, ch {args.ch}, '
          f'n_res {args.n_res}, n_dis {args.n_dis}, {"light" if not args.full else "full"}, '
          f'batch {args.batch}, median of {args.iters} iterations')
    print(f'  official order  {off:8.3f} s/iter')
    print(f'  plugin          {ours:8.3f} s/iter   speed-up x{off / ours:.2f}')
    print(f'  weights after {args.warmup + args.iters} iterations: max relative difference '
          f'{max_rel:.2e} (float32, different operation order)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Compare the plugin with outputs of the official code (a parity fixture folder).

Fixture format (``tests/data/official_parity/README.md``; made by
``tools/make_parity_fixture.py``, :mod:`.fixture`): ``meta.json``,
``official_params_init.pt`` (official format), ``inputs.pt`` (RGB batches per step),
``expected_eval.pt`` and ``expected_train.pt``.

Everything runs in float64 through the same objects a training run uses: the model
is built by the registry from the converter's config, the optimizers by
``MultiOptimWrapperConstructor`` and the lr schedule by the param scheduler of
``nicegan_plugin/configs/_base_/schedules/nicegan_100k.py``, stepped after every iteration as
MMEngine's ``ParamSchedulerHook`` does.
"""
import copy
import json
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch

from .constants import OFFICIAL_ADAM
from .converter import official_to_plugin, plugin_to_official
from .fixture import load_final_state, load_inputs

OFFICIAL_EVAL = ('disA_real_A', 'disB_real_B', 'fake_A2B', 'fake_B2A', 'fake_A2A',
                 'fake_B2B', 'fake_A2B2A', 'fake_B2A2B')
HEADS = ('local', 'global', 'cam', 'heatmap', 'z')
#: the official optimisation as MMEngine configs (as in nicegan_plugin/configs/_base_/schedules)
OFFICIAL_SCHEDULE = dict(
    optim_wrapper=dict(constructor='MultiOptimWrapperConstructor',
                       generators=dict(optimizer=OFFICIAL_ADAM),
                       discriminators=dict(optimizer=OFFICIAL_ADAM)),
    param_scheduler=dict(type='NICEGANLinearDecayLR', total_iters=None, by_epoch=False))


def _errors(ours: torch.Tensor, ref: torch.Tensor) -> Tuple[float, float]:
    """(max abs error, max abs error / max |ref|)."""
    ours, ref = torch.as_tensor(ours, dtype=torch.float64), torch.as_tensor(
        ref, dtype=torch.float64)
    if ours.shape != ref.shape:
        raise ValueError(f'shape {tuple(ours.shape)} != expected {tuple(ref.shape)}')
    abs_err = (ours - ref).abs().max().item() if ref.numel() else 0.0
    scale = max(ref.abs().max().item() if ref.numel() else 0.0, 1e-30)
    return abs_err, abs_err / scale


class Report:
    """Max errors per group, judged against ``tolerance`` (max relative error)."""

    def __init__(self, tolerance: float = 1e-8) -> None:
        self.tolerance = tolerance
        self.groups: Dict[str, Dict[str, float]] = {}

    def add(self, group: str, ours, ref) -> None:
        a, r = _errors(ours, ref)
        g = self.groups.setdefault(group, dict(max_abs=0.0, max_rel=0.0, count=0))
        g['max_abs'] = max(g['max_abs'], a)
        g['max_rel'] = max(g['max_rel'], r)
        g['count'] += 1

    def worst(self) -> float:
        return max((g['max_rel'] for g in self.groups.values()), default=0.0)

    def failed(self) -> List[str]:
        """Groups whose max relative error is above the tolerance."""
        return [n for n, g in self.groups.items() if not g['max_rel'] <= self.tolerance]

    @property
    def passed(self) -> bool:
        return bool(self.groups) and not self.failed()

    def table(self) -> str:
        lines = [f'{"group":<34}{"compared":>9}{"max abs err":>14}{"max rel err":>14}']
        for name, g in self.groups.items():
            lines.append(f'{name:<34}{g["count"]:>9}{g["max_abs"]:>14.3e}{g["max_rel"]:>14.3e}')
        return '\n'.join(lines)


def build_from_fixture(fixture: str):
    """Convert the fixture's official checkpoint: (plugin checkpoint, model config)."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmagic')
    ckpt = torch.load(osp.join(fixture, 'official_params_init.pt'), map_location='cpu',
                      weights_only=True)
    plugin_ckpt, model_cfg = official_to_plugin(ckpt, 'A', 'B')
    return plugin_ckpt, model_cfg


def run_parity(fixture: str, tolerance: float = 1e-8,
               schedule_cfg: Optional[str] = None) -> Report:
    """Run the model against a fixture; the report judges every group by ``tolerance``.

    Args:
        schedule_cfg: a config file whose ``optim_wrapper``/``param_scheduler`` to train
            with (e.g. the recipe schedule ``nicegan_100k.py``, to check that the
            training configs are the official optimisation); default
            :data:`OFFICIAL_SCHEDULE`.
    """
    from mmagic.registry import MODELS
    from mmengine.config import Config
    from mmengine.logging import MessageHub
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS

    with open(osp.join(fixture, 'meta.json')) as f:
        meta = json.load(f)
    plugin_ckpt, model_cfg = build_from_fixture(fixture)
    model_cfg['adv_loss'] = dict(type='NICEGANAdversarialLoss', loss_weight=meta['adv_weight'])
    model_cfg['cycle_loss'] = dict(type='L1Loss', loss_weight=meta['cycle_weight'])
    model_cfg['recon_loss'] = dict(type='L1Loss', loss_weight=meta['recon_weight'])
    model = MODELS.build(model_cfg)
    model.load_state_dict(plugin_ckpt['state_dict'])
    model.double()
    inputs = load_inputs(fixture)
    report = Report(tolerance)

    # ---- eval-mode outputs at the initial weights (of the first images of batch 1)
    expected = torch.load(osp.join(fixture, 'expected_eval.pt'), weights_only=True)
    model.eval()
    with torch.no_grad():
        k = len(expected['fake_A2B'])
        real_a, real_b = inputs['real_A'][0][:k], inputs['real_B'][0][:k]
        dis, gen = model.discriminators, model.generators
        out_a, out_b = dis['A'](real_a), dis['B'](real_b)
        fake_a2b, fake_b2a = gen['B'](out_a.z), gen['A'](out_b.z)
        ours = {'disA_real_A': out_a, 'disB_real_B': out_b, 'fake_A2B': fake_a2b,
                'fake_B2A': fake_b2a, 'fake_A2A': gen['A'](out_a.z),
                'fake_B2B': gen['B'](out_b.z),
                'fake_A2B2A': gen['A'](dis['B'](fake_a2b).z),
                'fake_B2A2B': gen['B'](dis['A'](fake_b2a).z)}
        # the translation API must give the same images
        ours['translation_A2B'] = model.translation(real_a, target_domain='B')
    for name in OFFICIAL_EVAL:
        if name.startswith('dis'):
            for head, o, e in zip(HEADS, ours[name], expected[name]):
                report.add(f'eval/{name}/{head}', o, e)
        else:
            report.add(f'eval/{name}', ours[name], expected[name])
    report.add('eval/translation_api_A2B', ours['translation_A2B'], expected['fake_A2B'])

    # ---- training steps with the training configs' optimizers and schedule
    sched_cfg = Config.fromfile(schedule_cfg) if schedule_cfg else Config(
        copy.deepcopy(OFFICIAL_SCHEDULE))
    optim_cfg = copy.deepcopy(sched_cfg.optim_wrapper)
    for group in ('generators', 'discriminators'):
        optim_cfg[group]['optimizer'].update(lr=meta['lr'], weight_decay=meta['weight_decay'])
    model.train()
    optim = build_optim_wrapper(model, optim_cfg)
    hub = MessageHub.get_instance('nicegan_parity')
    hub.update_info('max_iters', meta['iteration'])  # as RuntimeInfoHook does
    schedulers = [PARAM_SCHEDULERS.build(copy.deepcopy(sched_cfg.param_scheduler),
                                         default_args=dict(optimizer=optim[g]))
                  for g in ('generators', 'discriminators')]
    train_expected = torch.load(osp.join(fixture, 'expected_train.pt'), weights_only=True)
    weights = dict(adv=meta['adv_weight'], cycle=meta['cycle_weight'],
                   recon=meta['recon_weight'])
    for step in range(meta['steps']):
        hub.update_info('iter', step)
        lrs = [optim[g].get_lr()['lr'][0] for g in ('generators', 'discriminators')]
        log_vars = model.train_on_batch(
            {'A': inputs['real_A'][step], 'B': inputs['real_B'][step]}, optim)
        for s in schedulers:
            s.step()
        ref = train_expected['losses'][step]
        for lr in lrs:
            report.add('train/lr', torch.tensor(lr), torch.tensor(ref['lr']))
        for ours_key, ref_key, w in official_loss_names(weights):
            report.add(f'train/loss/{ref_key}', log_vars[ours_key], w * ref[ref_key])

    # ---- every parameter and spectral-norm buffer after the last step
    final = plugin_to_official({'state_dict': model.state_dict()}, 'A', 'B')
    for net, ref_sd in load_final_state(fixture, train_expected).items():
        for k, v in ref_sd.items():
            report.add(f'final_state/{net}', final[net][k], v)
    return report


def official_loss_names(w: Dict[str, float]) -> List[Tuple[str, str, float]]:
    """(plugin log key, official name, weight the plugin applies to it)."""
    names = []
    for d in ('A', 'B'):
        names += [(f'loss_gan_d_{d}_global', f'D_ad_loss_G{d}', w['adv']),
                  (f'loss_gan_d_{d}_local', f'D_ad_loss_L{d}', w['adv']),
                  (f'loss_gan_d_{d}_cam', f'D_ad_cam_loss_{d}', w['adv']),
                  (f'loss_d_{d}', f'D_loss_{d}', 1.0),
                  (f'loss_gan_g_{d}_global', f'G_ad_loss_G{d}', w['adv']),
                  (f'loss_gan_g_{d}_local', f'G_ad_loss_L{d}', w['adv']),
                  (f'loss_gan_g_{d}_cam', f'G_ad_cam_loss_{d}', w['adv']),
                  (f'loss_cycle_{d}', f'G_cycle_loss_{d}', w['cycle']),
                  (f'loss_recon_{d}', f'G_recon_loss_{d}', w['recon']),
                  (f'loss_g_{d}', f'G_loss_{d}', 1.0)]
    return names

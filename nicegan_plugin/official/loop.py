"""The official NICE-GAN training step, run on the official networks: the one restatement of
``NICE.py`` in this project, used to make the parity fixtures (:mod:`.fixture`) and as the
``official`` side of the training benchmark (:mod:`nicegan_plugin.benchmarks.training`).

The official ``networks.py`` is imported at run time from a clone of
github.com/alpc91/NICE-GAN-pytorch (:func:`load_official_networks`; nothing of it is copied
here). ``NICE.py`` itself cannot be imported (it needs thop, OpenCV and a dataset folder), so
:class:`OfficialLoop` restates what it does around the networks, statement for statement
where the numbers depend on it, with the official variable names.
"""
import importlib.util
import itertools
import os.path as osp
from types import ModuleType
from typing import Dict, List, Mapping, Optional

import torch
import torch.nn as nn

from .constants import OFFICIAL_NETS

#: official loss weights (``main.py`` defaults): adv 1, cycle 10, recon 10
OFFICIAL_WEIGHTS = dict(adv=1.0, cycle=10.0, recon=10.0)
#: the D loss terms of one official step, in the official names
D_LOSSES = ('D_ad_loss_GA', 'D_ad_loss_LA', 'D_ad_loss_GB', 'D_ad_loss_LB',
            'D_ad_cam_loss_A', 'D_ad_cam_loss_B', 'D_loss_A', 'D_loss_B')
#: the G loss terms of one official step, in the official names
G_LOSSES = ('G_ad_loss_GA', 'G_ad_loss_LA', 'G_ad_loss_GB', 'G_ad_loss_LB',
            'G_ad_cam_loss_A', 'G_ad_cam_loss_B', 'G_cycle_loss_A', 'G_cycle_loss_B',
            'G_recon_loss_A', 'G_recon_loss_B', 'G_loss_A', 'G_loss_B')


class OfficialCodeError(ValueError):
    """The given folder is not a usable clone of the official code."""


def load_official_networks(repo: str) -> ModuleType:
    """The official ``networks.py`` of the clone ``repo``, imported under a private module
    name (no ``sys.path`` change; it imports only torch)."""
    path = osp.join(repo, 'networks.py')
    if not osp.isfile(path):
        raise OfficialCodeError(f'{path} not found: --official-repo must be a clone of '
                                'github.com/alpc91/NICE-GAN-pytorch')
    spec = importlib.util.spec_from_file_location('nicegan_official_networks', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = [n for n in ('ResnetGenerator', 'Discriminator', 'ILN', 'adaILN')
               if not hasattr(module, n)]
    if missing:
        raise OfficialCodeError(f'{path} has no {", ".join(missing)}: not the official '
                                'NICE-GAN networks.py')
    return module


def build_official_networks(networks: ModuleType, arch: Mapping) -> Dict[str, nn.Module]:
    """``{gen2B, gen2A, disA, disB}`` built in ``NICE.build_model``'s order (float32, the
    current RNG state): ``ResnetGenerator(3, 3, ngf=ch, n_blocks=n_res, img_size, light)``
    twice, then ``Discriminator(3, ndf=ch, n_layers=n_dis)`` twice."""
    gen = dict(input_nc=3, output_nc=3, ngf=arch['ch'], n_blocks=arch['n_res'],
               img_size=arch['img_size'], light=arch['light'])
    return {'gen2B': networks.ResnetGenerator(**gen), 'gen2A': networks.ResnetGenerator(**gen),
            'disA': networks.Discriminator(input_nc=3, ndf=arch['ch'], n_layers=arch['n_dis']),
            'disB': networks.Discriminator(input_nc=3, ndf=arch['ch'], n_layers=arch['n_dis'])}


def official_adam(first: nn.Module, second: nn.Module, lr: float,
                  weight_decay: float) -> torch.optim.Adam:
    """``NICE.build_model``'s optimizer over two networks."""
    return torch.optim.Adam(itertools.chain(first.parameters(), second.parameters()),
                            lr=lr, betas=(0.5, 0.999), weight_decay=weight_decay)


class OfficialLoop:
    """The official networks, optimizers and training-loop body (``NICE.py``).

    Args:
        nets: ``{gen2B, gen2A, disA, disB}`` (trained in place, put in train mode as
            ``NICE.train`` does).
        lr, weight_decay, weights: the official hyper-parameters (``weights``:
            :data:`OFFICIAL_WEIGHTS` by default).
    """

    def __init__(self, nets: Mapping[str, nn.Module], lr: float = 1e-4,
                 weight_decay: float = 1e-4, weights: Optional[Mapping[str, float]] = None
                 ) -> None:
        self.gen2B, self.gen2A, self.disA, self.disB = (nets[n] for n in OFFICIAL_NETS)
        self.lr = lr
        self.L1_loss, self.MSE_loss = nn.L1Loss(), nn.MSELoss()
        self.G_optim = official_adam(self.gen2B, self.gen2A, lr, weight_decay)
        self.D_optim = official_adam(self.disA, self.disB, lr, weight_decay)
        w = weights or OFFICIAL_WEIGHTS
        self.adv_weight, self.cycle_weight, self.recon_weight = w['adv'], w['cycle'], w['recon']
        for net in self.modules():
            net.train()

    @classmethod
    def build(cls, networks: ModuleType, arch: Mapping, state: Mapping[str, dict],
              device: torch.device, dtype: torch.dtype = torch.float32,
              **kwargs) -> 'OfficialLoop':
        """A loop on new official networks (:func:`build_official_networks`) holding the
        official state dicts ``state`` ({gen2B, gen2A, disA, disB}), on ``device``, in
        ``dtype`` (float64 for an exact comparison)."""
        nets = build_official_networks(networks, arch)
        for name, net in nets.items():
            net.to(device).load_state_dict(state[name])
            net.to(dtype)
        return cls(nets, **kwargs)

    def modules(self) -> List[nn.Module]:
        return [self.gen2B, self.gen2A, self.disA, self.disB]

    def optimizers(self) -> List[torch.optim.Optimizer]:
        return [self.G_optim, self.D_optim]

    def decay_lr(self, step: int, iteration: int) -> None:
        """``NICE.train``'s linear decay (``decay_flag``), applied before step ``step``
        (1-based) of a run of ``iteration`` steps: past the half, both lrs drop by
        ``lr / (iteration // 2)``."""
        half = iteration // 2
        if step > half:
            self.G_optim.param_groups[0]['lr'] -= self.lr / half
            self.D_optim.param_groups[0]['lr'] -= self.lr / half

    def step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> Dict[str, torch.Tensor]:
        """One iteration of ``NICE.train`` on one batch: the same calls on the same modules
        in the same order. Left out: data loading (the batch is given), the lr decay
        (:meth:`decay_lr`), printing, image dumps and checkpoints. Returns every loss term
        (:data:`D_LOSSES`, :data:`G_LOSSES`) and ``Discriminator_loss`` /
        ``Generator_loss`` (not detached: no work is added to the step the benchmark
        times)."""
        mse, l1 = self.MSE_loss, self.L1_loss
        dev = next(self.disA.parameters()).device
        real_A, real_B = real_A.to(dev), real_B.to(dev)
        # Update D
        self.D_optim.zero_grad()
        real_LA_logit, real_GA_logit, real_A_cam_logit, _, real_A_z = self.disA(real_A)
        real_LB_logit, real_GB_logit, real_B_cam_logit, _, real_B_z = self.disB(real_B)
        fake_A2B = self.gen2B(real_A_z)
        fake_B2A = self.gen2A(real_B_z)
        fake_B2A = fake_B2A.detach()
        fake_A2B = fake_A2B.detach()
        fake_LA_logit, fake_GA_logit, fake_A_cam_logit, _, _ = self.disA(fake_B2A)
        fake_LB_logit, fake_GB_logit, fake_B_cam_logit, _, _ = self.disB(fake_A2B)

        def real_fake(real_logit, fake_logit):
            return (mse(real_logit, torch.ones_like(real_logit).to(dev))
                    + mse(fake_logit, torch.zeros_like(fake_logit).to(dev)))

        d = dict(D_ad_loss_GA=real_fake(real_GA_logit, fake_GA_logit),
                 D_ad_loss_LA=real_fake(real_LA_logit, fake_LA_logit),
                 D_ad_loss_GB=real_fake(real_GB_logit, fake_GB_logit),
                 D_ad_loss_LB=real_fake(real_LB_logit, fake_LB_logit),
                 D_ad_cam_loss_A=real_fake(real_A_cam_logit, fake_A_cam_logit),
                 D_ad_cam_loss_B=real_fake(real_B_cam_logit, fake_B_cam_logit))
        d['D_loss_A'] = self.adv_weight * (d['D_ad_loss_GA'] + d['D_ad_cam_loss_A']
                                           + d['D_ad_loss_LA'])
        d['D_loss_B'] = self.adv_weight * (d['D_ad_loss_GB'] + d['D_ad_cam_loss_B']
                                           + d['D_ad_loss_LB'])
        Discriminator_loss = d['D_loss_A'] + d['D_loss_B']
        Discriminator_loss.backward()
        self.D_optim.step()

        # Update G (the reals re-encoded by the updated discriminators)
        self.G_optim.zero_grad()
        _, _, _, _, real_A_z = self.disA(real_A)
        _, _, _, _, real_B_z = self.disB(real_B)
        fake_A2B = self.gen2B(real_A_z)
        fake_B2A = self.gen2A(real_B_z)
        fake_LA_logit, fake_GA_logit, fake_A_cam_logit, _, fake_A_z = self.disA(fake_B2A)
        fake_LB_logit, fake_GB_logit, fake_B_cam_logit, _, fake_B_z = self.disB(fake_A2B)
        fake_B2A2B = self.gen2B(fake_A_z)
        fake_A2B2A = self.gen2A(fake_B_z)

        def real(logit):
            return mse(logit, torch.ones_like(logit).to(dev))

        g = dict(G_ad_loss_GA=real(fake_GA_logit), G_ad_loss_LA=real(fake_LA_logit),
                 G_ad_loss_GB=real(fake_GB_logit), G_ad_loss_LB=real(fake_LB_logit),
                 G_ad_cam_loss_A=real(fake_A_cam_logit), G_ad_cam_loss_B=real(fake_B_cam_logit),
                 G_cycle_loss_A=l1(fake_A2B2A, real_A), G_cycle_loss_B=l1(fake_B2A2B, real_B))
        fake_A2A = self.gen2A(real_A_z)
        fake_B2B = self.gen2B(real_B_z)
        g['G_recon_loss_A'] = l1(fake_A2A, real_A)
        g['G_recon_loss_B'] = l1(fake_B2B, real_B)
        g['G_loss_A'] = (self.adv_weight * (g['G_ad_loss_GA'] + g['G_ad_cam_loss_A']
                                            + g['G_ad_loss_LA'])
                         + self.cycle_weight * g['G_cycle_loss_A']
                         + self.recon_weight * g['G_recon_loss_A'])
        g['G_loss_B'] = (self.adv_weight * (g['G_ad_loss_GB'] + g['G_ad_cam_loss_B']
                                            + g['G_ad_loss_LB'])
                         + self.cycle_weight * g['G_cycle_loss_B']
                         + self.recon_weight * g['G_recon_loss_B'])
        Generator_loss = g['G_loss_A'] + g['G_loss_B']
        Generator_loss.backward()
        self.G_optim.step()
        return dict(**d, **g, Discriminator_loss=Discriminator_loss,
                    Generator_loss=Generator_loss)

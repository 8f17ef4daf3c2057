"""NICE-GAN: unpaired translation whose encoders are the discriminators' front layers.

Translation A->B is ``generators[B](discriminators[A].encode(x))``. Training
alternates, per iteration (official ``NICE.py``):

1. D/encoder update on real images and detached fakes (generators under no_grad);
2. G update with every discriminator frozen (``requires_grad_(False)``): the
   encoder is trained only by the discriminator loss ("decoupled training").
"""
import functools
from contextlib import contextmanager, nullcontext
from copy import deepcopy
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
from mmagic.models.base_models import BaseTranslationModel
from mmagic.registry import MODELS
from mmagic.structures import DataSample
from mmagic.utils.typing import SampleList
from mmengine import dist
from mmengine.optim import OptimWrapper, OptimWrapperDict

from ..utils.cuda_graph import CUDAGraphStep
from ..utils.pixels import ModelIO

Tensors = Dict[str, torch.Tensor]


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Parameters of ``module`` take no gradient inside the block (restored after)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def sync_gradients(module: nn.Module) -> None:
    """Average the gradients of ``module`` over all ranks (no-op when not distributed).

    Done explicitly, per update, for the group being stepped only: DDP's reducer
    cannot serve the alternating updates (half the parameters are unused in each
    backward, and the other half's gradients would be all-reduced for nothing).
    """
    if dist.get_world_size() < 2:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if grads:
        dist.all_reduce_params(grads, coalesce=True, op='mean')


def _sum(terms: Iterable[torch.Tensor]) -> torch.Tensor:
    """``t0 + t1 + ...`` left to right (``sum()`` would add a ``0 +`` call first)."""
    return functools.reduce(torch.add, terms)


def _decode_pair(generator: nn.Module, z_1: torch.Tensor,
                 z_2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``generator(z_1), generator(z_2)``, as one batch when the shapes allow it."""
    if z_1.shape != z_2.shape:
        return generator(z_1), generator(z_2)
    return generator(torch.cat([z_1, z_2])).split(z_1.shape[0])


@MODELS.register_module()
class NICEGAN(BaseTranslationModel):
    """NICE-GAN (Chen et al., CVPR 2020, "Reusing Discriminators for Encoding").

    Args:
        generator: config of the decoder, one per domain; ``forward(z) -> image``.
        discriminator: config of the discriminator/encoder, one per domain; must
            provide the interface documented in :class:`NICEGANDiscriminator`
            (``forward -> DiscriminatorOutput``, ``encode``,
            ``advance_head_power_iterations``).
        adv_loss: multi-head adversarial loss (``NICEGANAdversarialLoss``).
        cycle_loss: loss between ``x`` and its A->B->A cycle (paper weight 10).
        recon_loss: loss between ``x`` and its reconstruction through its own
            domain's encoder and decoder (paper weight 10).
        ema: keep ``generators_ema``, a copy of the generators for MMagic's
            ``ExponentialMovingAverageHook(module_keys='generators_ema')`` to average;
            translations in eval mode (val, test, tools) then use it. Off by default:
            the paper has no EMA.
        cuda_graph: opt-in speed-up on a GPU, e.g. ``dict(enabled=True,
            warmup_iters=3, bf16=False)``: the whole iteration replayed as one CUDA
            graph, optionally with bf16 autocast (see :class:`CUDAGraphStep`).
        Other arguments: see MMagic's ``BaseTranslationModel``; exactly two domains.
    """

    def __init__(self,
                 *args,
                 adv_loss: dict = dict(type='NICEGANAdversarialLoss', loss_weight=1.0),
                 cycle_loss: dict = dict(type='L1Loss', loss_weight=10.0),
                 recon_loss: dict = dict(type='L1Loss', loss_weight=10.0),
                 ema: bool = False,
                 cuda_graph: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if len(self._reachable_domains) != 2 or self.discriminators is None:
            raise ValueError('NICEGAN translates between exactly two reachable domains and '
                             'needs its discriminators (they are the encoders); got '
                             f'reachable_domains={self._reachable_domains}')
        self.adv_loss = MODELS.build(adv_loss)
        self.cycle_loss = MODELS.build(cycle_loss)
        self.recon_loss = MODELS.build(recon_loss)
        self.generators_ema = deepcopy(self.generators).requires_grad_(False) if ema else None
        self.cuda_graph = CUDAGraphStep.from_cfg(cuda_graph)

    def init_weights(self) -> None:
        super().init_weights()
        if self.generators_ema is not None:  # the average starts at the initial weights
            self.generators_ema.load_state_dict(self.generators.state_dict())

    # ------------------------------------------------------------- translation
    @property
    def domains(self) -> List[str]:
        return list(self._reachable_domains)

    def other_domain(self, domain: str) -> str:
        a, b = self._reachable_domains
        return b if domain == a else a

    def inference_generator(self, domain: str) -> nn.Module:
        """The generator of ``domain`` that eval-mode translation uses: the averaged one
        (``generators_ema``) when ``ema`` is on, else the trained one. Every translation
        path (tools, export, backends, CAM panels) takes its generator from here."""
        gens = self.generators_ema if self.generators_ema is not None else self.generators
        return self.get_module(gens)[domain]

    def _get_target_generator(self, domain: str) -> nn.Module:
        """MMagic's hook for :meth:`translation`: :meth:`inference_generator` in eval
        mode, the trained generator in train mode."""
        if not self.training:
            return self.inference_generator(domain)
        return super()._get_target_generator(domain)

    def encode(self, image: torch.Tensor, source_domain: str) -> torch.Tensor:
        """Encoder features of ``image`` from domain ``source_domain``."""
        return self._get_target_discriminator(source_domain).encode(image)

    def translation(self, image: torch.Tensor, target_domain: Optional[str] = None,
                    **kwargs) -> torch.Tensor:
        """Translate (B, 3, H, W) RGB images in [-1, 1] into ``target_domain``
        (default: ``default_domain``), from the other domain."""
        target = target_domain or self._default_domain
        source = kwargs.get('source_domain') or self.other_domain(target)
        return self._get_target_generator(target)(self.encode(image, source))

    # ---------------------------------------------------------------- training
    def train_step(self, data: dict, optim_wrapper: OptimWrapperDict) -> Tensors:
        """One NICE-GAN iteration on a batch from MMagic's data pipeline."""
        inputs = self.data_preprocessor(data, True)['inputs']
        real = {d: inputs[f'img_{d}'] for d in self.domains}
        return self.train_on_batch(real, optim_wrapper)

    def train_on_batch(self, real: Tensors, optim_wrapper: OptimWrapperDict) -> Tensors:
        """One iteration on preprocessed images ``real[domain]`` (B, 3, H, W), replayed
        as a CUDA graph when ``cuda_graph`` is enabled."""
        if self.cuda_graph is not None:
            return self.cuda_graph(self._iteration, real, optim_wrapper)
        return self._iteration(real, optim_wrapper)

    def _iteration(self, real: Tensors, optim_wrapper: OptimWrapperDict) -> Tensors:
        """The algorithm: D/encoder update, then G update with D frozen."""
        d_optim, g_optim = optim_wrapper['discriminators'], optim_wrapper['generators']
        with d_optim.optim_context(self.discriminators):
            with self._autocast(real):
                loss_d, log_vars = self.discriminator_loss(real)
            self._update(d_optim, loss_d, self.discriminators)
        with frozen(self.discriminators), g_optim.optim_context(self.generators):
            with self._autocast(real):
                loss_g, log_vars_g = self.generator_loss(real)
            self._update(g_optim, loss_g, self.generators)
        log_vars.update(log_vars_g)
        return log_vars

    def _autocast(self, real: Tensors):
        """bf16 autocast of the forward passes if ``cuda_graph.bf16``, else a no-op."""
        if self.cuda_graph is None:
            return nullcontext()
        return self.cuda_graph.autocast(next(iter(real.values())).device.type)

    def discriminator_loss(self, real: Tensors) -> Tuple[torch.Tensor, Tensors]:
        """D/encoder loss on real images and detached translations."""
        gens = self.get_module(self.generators)
        dis = self.get_module(self.discriminators)
        real_out = {d: dis[d](real[d]) for d in self.domains}
        with torch.no_grad():
            fake = {d: gens[d](real_out[self.other_domain(d)].z) for d in self.domains}
        log_vars, total = {}, None
        for d in self.domains:
            terms = self.adv_loss(dis[d](fake[d]), real_out[d])
            loss_d = _sum(terms.values())
            log_vars.update({f'loss_gan_d_{d}_{h}': v for h, v in terms.items()})
            log_vars[f'loss_d_{d}'] = loss_d
            total = loss_d if total is None else total + loss_d
        log_vars['loss_d'] = total
        return total, {k: v.detach() for k, v in log_vars.items()}

    def generator_loss(self, real: Tensors) -> Tuple[torch.Tensor, Tensors]:
        """G loss: adversarial + cycle + reconstruction, with the encoders frozen."""
        gens = self.get_module(self.generators)
        dis = self.get_module(self.discriminators)
        z_real = {}
        for d in self.domains:
            z_real[d] = dis[d].encode(real[d])
            # the official step runs full D forwards here; only z is used, the
            # heads' power iterations are replayed without computing the heads
            dis[d].advance_head_power_iterations()
        fake, recon = {}, {}
        for d in self.domains:
            # other -> d (translation) and d -> d (reconstruction through d's own
            # encoder) in one pass of d's generator: it is per-sample (no batch
            # statistics), so the batch only saves calls
            fake[d], recon[d] = _decode_pair(gens[d], z_real[self.other_domain(d)], z_real[d])
        fake_out = {d: dis[d](fake[d]) for d in self.domains}
        log_vars, total = {}, None
        for d in self.domains:
            other = self.other_domain(d)
            cycle = gens[d](fake_out[other].z)   # d -> other -> d
            terms = {f'loss_gan_g_{d}_{h}': v
                     for h, v in self.adv_loss(fake_out[d]).items()}
            terms[f'loss_cycle_{d}'] = self.cycle_loss(cycle, real[d])
            terms[f'loss_recon_{d}'] = self.recon_loss(recon[d], real[d])
            loss_g = _sum(terms.values())
            log_vars.update(terms)
            log_vars[f'loss_g_{d}'] = loss_g
            total = loss_g if total is None else total + loss_g
        log_vars['loss_g'] = total
        return total, {k: v.detach() for k, v in log_vars.items()}

    @staticmethod
    def _update(optim: OptimWrapper, loss: torch.Tensor, module: nn.Module) -> None:
        """``OptimWrapper.update_params`` with a gradient all-reduce before the step."""
        optim.backward(optim.scale_loss(loss))
        if optim.should_update():
            sync_gradients(module)
            optim.step()
            optim.zero_grad()

    # -------------------------------------------------------------- evaluation
    @torch.no_grad()
    def _predict(self, data: dict) -> SampleList:
        data = self.data_preprocessor(data)
        inputs, data_samples = data['inputs'], data['data_samples']
        fakes = {self.other_domain(src): self.translation(
            inputs[f'img_{src}'], target_domain=self.other_domain(src))
            for src in self.domains}
        samples = data_samples.split() if data_samples is not None else []
        io = ModelIO(self)
        outputs = []
        for idx in range(next(iter(fakes.values())).shape[0]):
            sample = DataSample()
            if samples:
                sample.update(samples[idx])
            for tgt, fake in fakes.items():
                # BGR in [0, 255] like the ``img_*`` samples, what MMagic's metrics and
                # hooks expect; not ``data_preprocessor.destruct``: MMagic 1.2 records the
                # loaded order (BGR) as the output order, so an RGB model's fakes would
                # come back RGB, labelled BGR (colour-swapped files and FID)
                sample.set_tensor_data({f'fake_{tgt}': io.to_bgr255(fake[idx])})
            outputs.append(sample)
        return outputs

    def val_step(self, data: dict) -> SampleList:
        """Translations both ways as ``fake_<domain>`` (BGR, 0-255), like CycleGAN."""
        return self._predict(data)

    def test_step(self, data: dict) -> SampleList:
        """Same as :meth:`val_step`."""
        return self._predict(data)

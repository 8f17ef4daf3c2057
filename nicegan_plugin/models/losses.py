"""NICE-GAN's multi-head adversarial loss, built on MMagic's ``GANLoss``."""
from typing import Dict, Sequence

import torch
import torch.nn as nn
from mmagic.models.losses import GANLoss
from mmagic.registry import MODELS

# GANLoss types computed as ``criterion(input, full target)`` (mmagic gan_loss.py)
_CONSTANT_TARGET_TYPES = ('vanilla', 'lsgan', 'l1')


@MODELS.register_module()
class NICEGANAdversarialLoss(nn.Module):
    """GAN loss summed over the discriminator's heads (local, global, CAM).

    Each head's logit gets the same ``GANLoss`` (LSGAN in the paper: MSE, mean
    reduction). Unlike MMagic's ``GANLoss``, ``loss_weight`` (the paper's
    ``adv_weight``) applies to the discriminator terms too, as in the official
    code (``D_loss_A = adv_weight * (GA + camA + LA)``).

    Args:
        gan_type: any ``GANLoss`` type; 'lsgan' reproduces the paper.
        loss_weight: adversarial weight for both D and G terms.
        heads: names of the logits used, fields of ``DiscriminatorOutput``.
    """

    def __init__(self,
                 gan_type: str = 'lsgan',
                 loss_weight: float = 1.0,
                 heads: Sequence[str] = ('global', 'cam', 'local')) -> None:
        super().__init__()
        self.gan_loss = GANLoss(gan_type, real_label_val=1.0, fake_label_val=0.0,
                                loss_weight=1.0)
        self.loss_weight = loss_weight
        self.heads = tuple(heads)

    def _logits(self, outputs) -> Dict[str, torch.Tensor]:
        return {h: getattr(outputs, f'{h}_logit') for h in self.heads}

    def _gan_term(self, logit: torch.Tensor, real: bool, is_disc: bool) -> torch.Tensor:
        """``GANLoss(logit, real, is_disc)`` (whose own weight is 1).

        For the types whose loss is ``criterion(logit, constant target)`` the target
        is one ``full_like`` instead of ``new_ones(...) * value`` and the weight-1
        multiply is skipped: the same numbers in fewer calls.
        """
        gan = self.gan_loss
        if gan.gan_type in _CONSTANT_TARGET_TYPES:
            value = gan.real_label_val if real else gan.fake_label_val
            return gan.loss(logit, torch.full_like(logit, value))
        return gan(logit, real, is_disc=is_disc)

    def _weighted(self, loss: torch.Tensor) -> torch.Tensor:
        return loss if self.loss_weight == 1.0 else self.loss_weight * loss

    def generator_loss(self, fake_outputs) -> Dict[str, torch.Tensor]:
        """Weighted per-head loss for the generator: fakes should look real."""
        return {h: self._weighted(self._gan_term(logit, True, is_disc=False))
                for h, logit in self._logits(fake_outputs).items()}

    def discriminator_loss(self, real_outputs, fake_outputs) -> Dict[str, torch.Tensor]:
        """Weighted per-head loss for the discriminator: real -> 1, fake -> 0."""
        real, fake = self._logits(real_outputs), self._logits(fake_outputs)
        return {h: self._weighted(self._gan_term(real[h], True, is_disc=True) +
                                  self._gan_term(fake[h], False, is_disc=True))
                for h in self.heads}

    def forward(self, fake_outputs, real_outputs=None) -> Dict[str, torch.Tensor]:
        """Generator loss if only fakes are given, else the discriminator loss."""
        if real_outputs is None:
            return self.generator_loss(fake_outputs)
        return self.discriminator_loss(real_outputs, fake_outputs)

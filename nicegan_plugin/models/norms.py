"""ILN and AdaILN: the instance/layer-norm mixtures of NICE-GAN's decoder.

Both mix instance-norm and layer-norm statistics with a softmax over a learnable
2-entry ``rho`` per channel (no clipping, unlike U-GAT-IT). Statistics follow the
official code exactly: unbiased variance (``torch.var``), ``eps`` inside the sqrt.
"""
import torch
import torch.nn as nn


def _ins_layer_mix(x: torch.Tensor, rho: torch.Tensor, eps: float) -> torch.Tensor:
    """``softmax(rho)[0] * IN(x) + softmax(rho)[1] * LN(x)``.

    Args:
        x: (B, C, H, W) features.
        rho: (1, C, 2) mixing logits.
        eps: added to the variance inside the square root.
    """
    in_mean = torch.mean(x, dim=[2, 3], keepdim=True)
    in_var = torch.var(x, dim=[2, 3], keepdim=True)
    out_in = (x - in_mean) / torch.sqrt(in_var + eps)
    ln_mean = torch.mean(x, dim=[1, 2, 3], keepdim=True)
    ln_var = torch.var(x, dim=[1, 2, 3], keepdim=True)
    out_ln = (x - ln_mean) / torch.sqrt(ln_var + eps)
    weights = torch.softmax(rho, dim=2)
    rho_in = weights[:, :, 0].view(1, -1, 1, 1)
    rho_ln = weights[:, :, 1].view(1, -1, 1, 1)
    return rho_in * out_in + rho_ln * out_ln


class ILN(nn.Module):
    """Instance-Layer Normalization with learned affine parameters.

    ``rho`` starts at [1, 3.2] (softmax: 0.0998 IN / 0.9002 LN), ``gamma`` at 1 and
    ``beta`` at 0, as in the official implementation.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.tensor([1.0, 3.2]).repeat(1, num_features, 1))
        self.gamma = nn.Parameter(torch.ones(1, num_features, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, num_features, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ins_layer_mix(x, self.rho, self.eps) * self.gamma + self.beta


class AdaILN(nn.Module):
    """Adaptive ILN: affine parameters (B, C) come from the decoder's MLP.

    ``rho`` starts at [3.2, 1] (softmax: 0.9002 IN / 0.0998 LN).
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.tensor([3.2, 1.0]).repeat(1, num_features, 1))

    def forward(self, x: torch.Tensor, gamma: torch.Tensor,
                beta: torch.Tensor) -> torch.Tensor:
        out = _ins_layer_mix(x, self.rho, self.eps)
        return out * gamma[:, :, None, None] + beta[:, :, None, None]

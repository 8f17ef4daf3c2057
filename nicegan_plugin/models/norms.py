"""ILN and AdaILN: the instance/layer-norm mixtures of NICE-GAN's decoder.

Both compute, per sample ``b`` and channel ``c`` (official ``networks.py``)::

    out = gamma * (rho_in * (x - m_in) / sqrt(v_in + eps)
                   + rho_ln * (x - m_ln) / sqrt(v_ln + eps)) + beta

with instance statistics ``m_in, v_in`` over (H, W), layer statistics ``m_ln, v_ln``
over (C, H, W), unbiased variances (``torch.var``), ``eps`` inside the square root and
``(rho_in, rho_ln) = softmax(rho)`` per channel (no clipping, unlike U-GAT-IT).

The same function is evaluated as one affine map per (b, c), ``out = x * scale + shift``
(two statistics passes, :func:`_moments`, and one ``addcmul`` over the feature map
instead of ~13 full-size operations), and in training it is differentiated by a
hand-written backward (:class:`_ILNFunction`: two reductions and two ``addcmul`` over
the feature map, the rest on (B, C) statistics). Exact in real arithmetic; in float64
it matches the official code's formula to ~1e-15 (``tools/parity_check.py``), in
float32 to rounding (~1e-6 relative). The fused backward is used only where it can be
needed (train mode with grad enabled), so eval/export sees plain ATen ops.
"""
import math
from typing import Tuple

import torch
import torch.nn as nn

Tensor = torch.Tensor


def _moments(x: Tensor, eps: float, cpu_kernels: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Instance (B, C, 1, 1) and layer (B, 1, 1, 1) means and ``1 / sqrt(var + eps)``
    with unbiased variances.

    On the CPU, ``var_mean`` (Welford) is ~10x slower than the vectorized statistics of
    the fused norm kernels; with ``cpu_kernels`` they come from ``native_group_norm``
    (one group per channel) and ``native_layer_norm``, which use the biased variance:
    with ``eps * (n - 1) / n`` inside, their ``1/std`` times ``sqrt((n - 1) / n)`` is the
    unbiased one exactly (their normalized outputs are not used). Otherwise, and on
    other devices, one ``var_mean`` reduction per statistic (also what tracing and
    export see: no size-dependent constants).
    """
    b, c, h, w = x.shape
    if not (cpu_kernels and x.device.type == 'cpu' and not torch.compiler.is_compiling()):
        var_in, mean_in = torch.var_mean(x, dim=(2, 3), keepdim=True)
        var_ln, mean_ln = torch.var_mean(x, dim=(1, 2, 3), keepdim=True)
        return mean_in, torch.rsqrt(var_in + eps), mean_ln, torch.rsqrt(var_ln + eps)
    n_in, n_ln = h * w, c * h * w
    _, mean_in, rstd_in = torch.native_group_norm(
        x, None, None, b, c, n_in, c, eps * (n_in - 1) / n_in)
    _, mean_ln, rstd_ln = torch.native_layer_norm(
        x, x.shape[1:], None, None, eps * (n_ln - 1) / n_ln)
    return (mean_in.view(b, c, 1, 1), rstd_in.view(b, c, 1, 1) * math.sqrt((n_in - 1) / n_in),
            mean_ln, rstd_ln * math.sqrt((n_ln - 1) / n_ln))


def _affine(x: Tensor, weights: Tensor, gamma: Tensor, beta: Tensor,
            eps: float, cpu_kernels: bool = False) -> Tuple[Tensor, ...]:
    """Per-(b, c) ``scale``/``shift`` of the ILN map and the statistics behind them.

    Args:
        x: (B, C, H, W) features.
        weights: (1, C, 2) ``softmax(rho)``: (IN weight, LN weight) per channel.
        gamma, beta: (1 or B, C, 1, 1) affine parameters.
        eps: added to the unbiased variances inside the square roots.

    Returns:
        ``scale, shift, mean_in, mean_ln, rstd_in, rstd_ln, c_in, c_ln`` where
        ``c_* = rho_* * rstd_*`` and ``out = x * scale + shift``.
    """
    mean_in, rstd_in, mean_ln, rstd_ln = _moments(x, eps, cpu_kernels)
    w_in, w_ln = weights.view(1, x.shape[1], 2, 1, 1).unbind(2)          # (1, C, 1, 1)
    c_in = w_in * rstd_in
    c_ln = w_ln * rstd_ln
    scale = (c_in + c_ln) * gamma
    centre = torch.addcmul(c_in * mean_in, c_ln, mean_ln)
    shift = torch.addcmul(beta, gamma, centre, value=-1)
    return scale, shift, mean_in, mean_ln, rstd_in, rstd_ln, c_in, c_ln


class _ILNFunction(torch.autograd.Function):
    """ILN map with a hand-written backward (see the module docstring).

    With ``k = gamma``, ``kc_* = k * c_*``, ``Sg = sum_hw g``, ``Sgx = sum_hw g * x`` and
    ``t_* = sum_hw g * xhat_* = rstd_* * (Sgx - m_* Sg)``, the gradients are
    ``d beta = Sg``, ``d gamma = rho_in t_in + rho_ln t_ln``, ``d rho_* = k t_*`` and
    ``dx = g * scale - x * (u_in + u_ln) + u_in m_in + u_ln m_ln - kc_in Sg / n
    - sum_c(kc_ln Sg) / N`` with ``u_in = kc_in t_in rstd_in / (n - 1)``,
    ``u_ln = rstd_ln sum_c(kc_ln t_ln) / (N - 1)``, ``n = HW``, ``N = CHW``
    (summed over the batch where a parameter is shared).
    """

    @staticmethod
    def forward(ctx, x: Tensor, weights: Tensor, gamma: Tensor, beta: Tensor,
                eps: float) -> Tensor:
        scale, shift, *stats = _affine(x, weights, gamma, beta, eps, cpu_kernels=True)
        ctx.save_for_backward(x, weights, gamma, scale, *stats)
        ctx.beta_shape = beta.shape
        return torch.addcmul(shift, x, scale)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: Tensor):
        x, weights, gamma, scale, mean_in, mean_ln, rstd_in, rstd_ln, c_in, c_ln = \
            ctx.saved_tensors
        need_x, need_w, need_gamma, need_beta, _ = ctx.needs_input_grad
        b, c, h, w = x.shape
        n, big_n = h * w, c * h * w
        sum_g = g.sum(dim=(2, 3), keepdim=True)
        sum_gx = (g * x).sum(dim=(2, 3), keepdim=True)
        t_in = torch.addcmul(sum_gx, mean_in, sum_g, value=-1).mul_(rstd_in)
        t_ln = torch.addcmul(sum_gx, mean_ln, sum_g, value=-1).mul_(rstd_ln)
        grad_x = grad_w = grad_gamma = grad_beta = None
        w_in, w_ln = weights.view(1, c, 2, 1, 1).unbind(2)
        if need_beta:
            grad_beta = sum_g.sum_to_size(ctx.beta_shape)
        if need_gamma:
            grad_gamma = torch.addcmul(w_in * t_in, w_ln, t_ln).sum_to_size(gamma.shape)
        if need_w:
            grad_w = torch.stack(((gamma * t_in).sum_to_size(1, c, 1, 1),
                                  (gamma * t_ln).sum_to_size(1, c, 1, 1)), 2).view(1, c, 2)
        if need_x:
            kc_in, kc_ln = gamma * c_in, gamma * c_ln
            u_in = (kc_in * t_in).mul_(rstd_in).mul_(1.0 / (n - 1) if n > 1 else float('nan'))
            u_ln = (kc_ln * t_ln).sum(dim=1, keepdim=True).mul_(rstd_ln).mul_(1.0 / (big_n - 1))
            offset = torch.addcmul(u_in * mean_in, u_ln, mean_ln)
            offset.addcmul_(kc_in, sum_g, value=-1.0 / n)
            offset.add_((kc_ln * sum_g).sum(dim=1, keepdim=True), alpha=-1.0 / big_n)
            grad_x = torch.addcmul(offset, x, u_in + u_ln, value=-1).addcmul_(g, scale)
        return grad_x, grad_w, grad_gamma, grad_beta, None


def ins_layer_norm(x: Tensor, rho: Tensor, gamma: Tensor, beta: Tensor, eps: float,
                   training: bool = True) -> Tensor:
    """``gamma * (softmax(rho)_in IN(x) + softmax(rho)_ln LN(x)) + beta``.

    Args:
        x: (B, C, H, W) features.
        rho: (1, C, 2) mixing logits.
        gamma, beta: (1 or B, C, 1, 1).
        eps: added to the variances inside the square roots.
        training: differentiate with :class:`_ILNFunction` (when grad is enabled) and
            take the CPU statistics from the fused norm kernels (:func:`_moments`);
            otherwise (eval, export) plain ATen ops that autograd can record.
    """
    weights = torch.softmax(rho, dim=2)
    if training and torch.is_grad_enabled():
        return _ILNFunction.apply(x, weights, gamma, beta, eps)
    scale, shift = _affine(x, weights, gamma, beta, eps, cpu_kernels=training)[:2]
    return torch.addcmul(shift, x, scale)


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

    def forward(self, x: Tensor) -> Tensor:
        return ins_layer_norm(x, self.rho, self.gamma, self.beta, self.eps, self.training)


class AdaILN(nn.Module):
    """Adaptive ILN: affine parameters come from the decoder's MLP.

    ``rho`` starts at [3.2, 1] (softmax: 0.9002 IN / 0.0998 LN). ``gamma``/``beta``
    are (B, C) or already (B, C, 1, 1) (the generator reshapes them once for all
    its blocks).
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.tensor([3.2, 1.0]).repeat(1, num_features, 1))

    def forward(self, x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        if gamma.dim() == 2:
            gamma, beta = gamma[:, :, None, None], beta[:, :, None, None]
        return ins_layer_norm(x, self.rho, gamma, beta, self.eps, self.training)

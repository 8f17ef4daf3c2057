"""Steady video translation: the generator's per-frame statistics held steady over a clip.

Translated frame by frame, a clip flickers even where the input does not change. The
encoder is per pixel (convolutions and the CAM attention's 1x1 weights), but the
generator is not: its light AdaILN style ``(gamma, beta)`` comes from the globally
pooled stem output, and every ILN / AdaILN normalises with the mean and variance of the
whole frame's feature map (per channel and over all channels). A car entering the frame,
a pan or a little sensor noise moves these numbers, and with them the colour and
contrast of every pixel of the output.

:class:`SteadyGenerator` evaluates the same generator (same modules, same weights) with
each of these quantities replaced by its exponential moving average over the frames seen
so far, ``s_t = m * s_(t-1) + (1 - m) * x_t`` with ``s_0 = x_0``:

- per norm layer: the instance means and unbiased variances (B, C) and the layer mean
  and unbiased variance (B,), averaged *before* ``1 / sqrt(var + eps)`` is taken (as
  batch norm keeps running variances);
- the AdaILN ``gamma`` and ``beta`` (B, C), shared by all residual blocks.

Each layer's statistics are measured on features computed with the earlier layers'
steady statistics, in one causal pass: frames stream (no second decoding pass, memory
independent of the clip length), and after a lighting change the statistics follow
within about ``1 / (1 - m)`` frames. At a cut (:func:`is_cut`: more than 30 % of the
colour histogram's mass moves between two consecutive frames, ~5 % within a slow pan)
the clip loop starts the averages afresh, so one shot's look is not carried into the
next. The alternative, the
clip's statistics from a first pass, needs every clip decoded and translated twice and
puts one look on every shot. ``m = 0`` is the per-frame translation (to float32
rounding); the default, frame-exact translation does not use this module.

:class:`SteadyTranslator` is a :class:`~.translator.Translator` over these networks, so a
clip goes through the one translation path (``translate_arrays``) frame by frame; it
holds the running state of one clip (:meth:`SteadyTranslator.reset` between clips).
Frames of a batch are folded into the averages in batch order, so batch size does not
change the result.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import ILN, AdaILN, NICEGANGenerator
from ..utils.model_utils import eval_mode
from ..utils.pixels import ModelIO
from .translator import Outputs, TorchTranslator, Translator, TranslatorNet

Tensor = torch.Tensor

#: default weight of the past in the moving averages (``--steady`` without a value)
DEFAULT_MOMENTUM = 0.97
#: a cut: consecutive frames whose colour histograms differ in more than this share of
#: their mass (half the L1 distance of the normalised 16-bin histograms, mean over R, G,
#: B). Frame steps of slow pans over the test photos: <= 0.05; cuts between two of them:
#: 0.16-0.62, 81 % above 0.3.
CUT_DISTANCE = 0.3


def colour_histogram(rgb: np.ndarray, bins: int = 16) -> np.ndarray:
    """(3, bins) per-channel histogram of an RGB uint8 frame, each row summing to 1."""
    step = 256 // bins
    pixels = rgb.reshape(-1, 3) // step
    hist = np.stack([np.bincount(pixels[:, c], minlength=bins) for c in range(3)])
    return hist / pixels.shape[0]


def is_cut(previous: np.ndarray, current: np.ndarray) -> bool:
    """Whether two consecutive RGB frames belong to different shots (a histogram change
    above :data:`CUT_DISTANCE`; motion within a shot keeps the histogram)."""
    distance = 0.5 * np.abs(colour_histogram(previous) - colour_histogram(current)).sum(1)
    return bool(distance.mean() > CUT_DISTANCE)


class SteadyGenerator(nn.Module):
    """A view of a :class:`NICEGANGenerator` (light or full) whose norm statistics and
    AdaILN style are moving averages over the frames translated since :meth:`reset`
    (see the module docstring).

    Args:
        generator: the target domain's generator (eval mode; not copied).
        momentum: ``m`` in [0, 1): the weight of the past.
    """

    def __init__(self, generator: nn.Module, momentum: float = DEFAULT_MOMENTUM) -> None:
        super().__init__()
        if not isinstance(generator, NICEGANGenerator):
            raise ValueError(f'steady translation needs a NICE-GAN generator, got '
                             f'{type(generator).__name__}')
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f'the steady momentum must be in [0, 1), got {momentum}')
        self.generator = generator
        self.momentum = float(momentum)
        self.state: Dict[str, List[Tensor]] = {}

    def reset(self) -> None:
        """Forget the running averages (a new clip)."""
        self.state = {}

    # ---------------------------------------------------------------- averages
    def smooth(self, key: str, values: Sequence[Tensor]) -> List[Tensor]:
        """Per-sample statistics (each (B, ...)) -> their running averages (B, ...),
        sample b folded in after samples 0..b-1 (and every earlier call)."""
        m = self.momentum
        state = self.state.get(key)
        rows = []
        for b in range(values[0].shape[0]):
            current = [v[b] for v in values]
            state = current if state is None else [m * s + (1 - m) * c
                                                   for s, c in zip(state, current)]
            rows.append(state)
        self.state[key] = state
        return [torch.stack(column) for column in zip(*rows)]

    def norm(self, key: str, module: nn.Module, x: Tensor, gamma: Tensor,
             beta: Tensor) -> Tensor:
        """ILN / AdaILN of ``x`` (B, C, H, W) with averaged statistics:
        ``gamma * (rho_in (x - m_in) / sqrt(v_in + eps) + rho_ln (x - m_ln) /
        sqrt(v_ln + eps)) + beta`` (:mod:`nicegan_plugin.models.norms`), unbiased
        variances; ``gamma``, ``beta`` (1 or B, C)."""
        b, c = x.shape[:2]
        var_in, mean_in = torch.var_mean(x, dim=(2, 3))
        var_ln, mean_ln = torch.var_mean(x, dim=(1, 2, 3))
        mean_in, var_in, mean_ln, var_ln = self.smooth(key, (mean_in, var_in, mean_ln, var_ln))
        w_in, w_ln = torch.softmax(module.rho, dim=2).view(1, c, 2).unbind(2)   # (1, C)
        c_in = w_in * torch.rsqrt(var_in + module.eps)                          # (B, C)
        c_ln = w_ln * torch.rsqrt(var_ln + module.eps)[:, None]
        scale = (c_in + c_ln) * gamma
        shift = beta - gamma * (c_in * mean_in + c_ln * mean_ln[:, None])
        return torch.addcmul(shift.view(b, c, 1, 1), x, scale.view(b, c, 1, 1))

    def sequence(self, key: str, layers: nn.Sequential, x: Tensor) -> Tensor:
        """``layers(x)`` with each ILN replaced by :meth:`norm`."""
        for i, layer in enumerate(layers):
            if isinstance(layer, ILN):
                x = self.norm(f'{key}.{i}', layer, x, layer.gamma.view(1, -1),
                              layer.beta.view(1, -1))
            else:
                x = layer(x)
        return x

    # ----------------------------------------------------------------- forward
    def forward(self, z: Tensor) -> Tensor:
        """Decode encoder features (B, 2ch, h, w) into images (B, C, 4h, 4w) as
        :meth:`NICEGANGenerator.forward` does, with steady statistics."""
        g = self.generator
        x = self.sequence('stem', g.stem, z)
        style = F.adaptive_avg_pool2d(x, 1).flatten(1) if g.light else x.flatten(1)
        style = g.mlp(style)
        gamma, beta = self.smooth('style', (g.fc_gamma(style), g.fc_beta(style)))
        for i, block in enumerate(g.res_blocks):
            if not isinstance(block.norm1, AdaILN) or not isinstance(block.norm2, AdaILN):
                raise ValueError('steady translation needs AdaILN residual blocks')
            h = self.norm(f'block{i}.norm1', block.norm1, block.conv1(block.pad1(x)),
                          gamma, beta)
            h = self.norm(f'block{i}.norm2', block.norm2,
                          block.conv2(block.pad2(block.relu1(h))), gamma, beta)
            x = h + x
        return self.sequence('upsample', g.upsample, x)


class SteadyTranslator(Translator):
    """A PyTorch translator of a NICE-GAN direction with a :class:`SteadyGenerator`
    (see the module docstring): the same spec, encoder, pixel conversion and sizes as
    the :class:`~.translator.TorchTranslator` it is made from.

    Args:
        base: the in-process translator of the direction (``TorchTranslator``).
        momentum: weight of the past in the moving averages, in [0, 1).
    """
    name = 'pytorch (steady)'

    def __init__(self, base: Translator, momentum: float = DEFAULT_MOMENTUM) -> None:
        if not isinstance(base, TorchTranslator) or not isinstance(base.net, TranslatorNet):
            kind = getattr(base, 'name', type(base).__name__)
            raise ValueError(f'steady translation needs a NICE-GAN checkpoint run in PyTorch '
                             f'(CONFIG CHECKPOINT without --backend), not a {kind} '
                             f'translator ({getattr(base, "origin", "?")}): an exported '
                             'network computes its statistics inside the file')
        super().__init__(base.spec, base.origin)
        self.base = base
        self.generator = SteadyGenerator(base.net.generator, momentum)
        self.net = TranslatorNet(base.net.encoder, self.generator, base.net.heatmap,
                                 ModelIO(base.model))

    @property
    def momentum(self) -> float:
        return self.generator.momentum

    def reset(self) -> None:
        """Start a new clip: forget the running averages."""
        self.generator.reset()

    def describe(self) -> str:
        return super().describe() + f', steady statistics (momentum {self.momentum:g})'

    def _run(self, x: np.ndarray) -> Outputs:
        with eval_mode(self.base.model):
            out = self.net(torch.from_numpy(x).to(self.base.device))
        y, heat = out if isinstance(out, tuple) else (out, None)
        return (y.float().cpu().numpy(),
                heat.float().cpu().numpy() if heat is not None else None)


def steady_translator(translator: Translator,
                      momentum: Optional[float] = DEFAULT_MOMENTUM) -> Translator:
    """``translator`` itself when ``momentum`` is None, else its :class:`SteadyTranslator`
    (a ValueError naming what to use when it is not a PyTorch NICE-GAN translator)."""
    if momentum is None:
        return translator
    return SteadyTranslator(translator, momentum)

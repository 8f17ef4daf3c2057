"""The official NICE-GAN training visualization, as a reusable function.

Official ``NICE.py`` writes ``A2B_<step>.png`` / ``B2A_<step>.png`` every
``print_freq`` steps: one column per sample, five rows: the real image, the CAM
heatmap of its own discriminator/encoder (``utils.cam``), the reconstruction
through its own encoder and decoder (A->A), the translation (A->B) and the cycle
(A->B->A, re-encoded by the target domain's encoder). The rows come from the same
translator networks as every other translation path (the EMA generators when on).
"""
from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..inference.translator import other_domain, translator_net
from ..utils.model_utils import eval_mode, unwrap
from ..utils.pixels import ModelIO, colorize_heatmap, to_uint8

ROWS = ('real', 'heatmap', 'reconstruction', 'translation', 'cycle')


def direction_rows(model: nn.Module, images: torch.Tensor,
                   source_domain: str) -> Dict[str, np.ndarray]:
    """The five panel rows for ``source_domain`` -> the other domain.

    Args:
        model: NICE-GAN model (or wrapper), used in eval mode under no_grad.
        images: (B, 3, H, W) model-space images of ``source_domain`` (what the
            data preprocessor produces).

    Returns:
        ``{row name: (B, H, W, 3) BGR uint8}`` for the names in :data:`ROWS`.
    """
    net = unwrap(model)
    io = ModelIO(net)
    src, tgt = source_domain, other_domain(net.domains, source_domain)
    images = images.to(io.device)
    x = io.to_unit_rgb(images)
    with eval_mode(net):  # the translators' networks: the EMA generators when on
        translation, heat = translator_net(net, src, tgt, heatmap=True)(x)
        reconstruction = translator_net(net, src, src)(x)
        cycle = translator_net(net, tgt, src)(translation)
    size = tuple(images.shape[2:])

    def bgr(t: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(to_uint8(t.float().cpu().numpy())[..., ::-1])

    return dict(real=io.to_bgr(images),
                heatmap=np.stack([colorize_heatmap(h, size)
                                  for h in heat.float().cpu().numpy()]),
                reconstruction=bgr(reconstruction),
                translation=bgr(translation),
                cycle=bgr(cycle))


def direction_panel(model: nn.Module, images: torch.Tensor, source_domain: str) -> np.ndarray:
    """One official-style panel (5 rows x B columns), (5H, B*W, 3) BGR uint8."""
    rows = direction_rows(model, images, source_domain)
    return np.concatenate([np.concatenate(list(rows[r]), axis=1) for r in ROWS], axis=0)


def cam_panels(model: nn.Module, images_by_domain: Dict[str, torch.Tensor]
               ) -> Dict[str, np.ndarray]:
    """Panels for every given source domain, keyed ``'<src>2<tgt>'``."""
    net = unwrap(model)
    unknown = set(images_by_domain) - set(net.domains)
    if unknown:
        raise KeyError(f'unknown domain(s) {sorted(unknown)}; the model has {net.domains}')
    return {f'{d}2{net.other_domain(d)}': direction_panel(net, images_by_domain[d], d)
            for d in net.domains if d in images_by_domain}


def cam_panel(model: nn.Module, images_by_domain: Dict[str, torch.Tensor],
              gap: int = 8) -> np.ndarray:
    """Both directions in one BGR uint8 image: the A->B panel above the B->A panel,
    separated by ``gap`` black rows (narrower panels are padded on the right)."""
    panels: List[np.ndarray] = list(cam_panels(model, images_by_domain).values())
    if not panels:
        raise ValueError('images_by_domain is empty')
    return stack_panels(panels, gap)


def stack_panels(panels: Sequence[np.ndarray], gap: int = 8) -> np.ndarray:
    """Panels one above the other, ``gap`` black rows apart, narrower ones padded right."""
    if not panels:
        raise ValueError('no panels to stack')
    width = max(p.shape[1] for p in panels)
    parts: List[np.ndarray] = []
    for i, p in enumerate(panels):
        if i:
            parts.append(np.zeros((gap, width, 3), np.uint8))
        parts.append(np.pad(p, ((0, 0), (0, width - p.shape[1]), (0, 0))))
    return np.concatenate(parts, axis=0)

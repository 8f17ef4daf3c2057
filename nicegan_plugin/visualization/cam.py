"""The official NICE-GAN training visualization, as a reusable function.

Official ``NICE.py`` writes ``A2B_<step>.png`` / ``B2A_<step>.png`` every
``print_freq`` steps: one column per sample, five rows: the real image, the CAM
heatmap of its own discriminator/encoder (``utils.cam``), the reconstruction
through its own encoder and decoder (A->A), the translation (A->B) and the cycle
(A->B->A, re-encoded by the target domain's encoder).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn

from ..utils.model_io import ModelIO
from ..utils.model_utils import eval_mode, unwrap


def colorize_heatmap(heatmap: np.ndarray, size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Official ``utils.cam``: min-max normalize, to uint8, resize, JET colour map.

    Args:
        heatmap: (h, w) or (1, h, w) or (h, w, 1) array.
        size: output (height, width); default: the heatmap's size.

    Returns:
        (H, W, 3) BGR uint8 (OpenCV's colour maps are BGR).
    """
    x = np.asarray(heatmap, dtype=np.float32).squeeze()  # official: float32 throughout
    if x.ndim != 2:
        raise ValueError(f'heatmap must be 2-D after squeezing, got shape {heatmap.shape}')
    x = x - x.min()
    peak = x.max()
    # a constant map would divide by zero (NaN in the official code): draw it as 0
    x = x / peak if peak > 0 else x
    img = np.uint8(255 * x)
    if size is not None and img.shape != tuple(size):
        img = cv2.resize(img, (size[1], size[0]))
    return cv2.applyColorMap(img, cv2.COLORMAP_JET)


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
    src, tgt = source_domain, net.other_domain(source_domain)
    images = images.to(io.device)
    with eval_mode(net):
        out = net.discriminators[src](images)
        translation = net.generators[tgt](out.z)
        reconstruction = net.generators[src](out.z)
        cycle = net.generators[src](net.encode(translation, tgt))
    size = tuple(images.shape[2:])
    heat = out.heatmap.float().cpu().numpy()
    return dict(real=io.to_bgr(images),
                heatmap=np.stack([colorize_heatmap(h, size) for h in heat]),
                reconstruction=io.to_bgr(reconstruction),
                translation=io.to_bgr(translation),
                cycle=io.to_bgr(cycle))


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

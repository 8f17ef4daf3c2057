"""Labelled picture grids: the CAM panels with their row, column and direction names
written on them, so that a saved grid reads without the terminal that made it."""
import os.path as osp
from typing import Dict, Optional, Sequence

import cv2
import numpy as np
import torch
import torch.nn as nn

from ..utils.model_utils import unwrap
from .cam import ROWS, direction_panel, stack_panels

#: row names written on the grid, in :data:`~nicegan_plugin.visualization.cam.ROWS` order
ROW_LABELS = dict(real='real', heatmap='CAM', reconstruction='reconstruction',
                  translation='translation', cycle='cycle')
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_WHITE, _GREY = (255, 255, 255), (200, 200, 200)


def _text_width(text: str, scale: float) -> int:
    return cv2.getTextSize(text, _FONT, scale, 1)[0][0]


def _fit(text: str, width: int, scale: float) -> str:
    """``text`` if it fits ``width`` pixels, else its end after '..' (file names of one
    folder tend to differ at the end: ``day_003``, ``day_004``)."""
    if _text_width(text, scale) <= width:
        return text
    while len(text) > 1 and _text_width('..' + text, scale) > width:
        text = text[1:]
    return '..' + text


def label_panel(panel: np.ndarray, row_labels: Sequence[str], title: str,
                column_labels: Optional[Sequence[str]] = None, scale: float = 0.4
                ) -> np.ndarray:
    """``panel`` (rows x columns of equal cells, BGR uint8) with a title band (``title``
    and, below it, ``column_labels`` centred over their columns) on top and a band of
    ``row_labels`` on the left, white on black.

    Args:
        panel: (R*h, C*w, 3) uint8 with R = ``len(row_labels)``.
        row_labels: one name per row of cells.
        title: e.g. the direction, ``'day -> night'``.
        column_labels: one name per column (shortened to fit: extension dropped, then
            the start), or None.
        scale: OpenCV font scale (0.4: ~7 px letters, readable over 64 px cells).

    Returns:
        (R*h + top, C*w + left, 3) uint8; the panel is unchanged at offset (top, left).
    """
    rows = len(row_labels)
    if rows == 0 or panel.ndim != 3 or panel.shape[0] % rows:
        raise ValueError(f'panel of shape {panel.shape} does not split into {rows} rows')
    cell_h = panel.shape[0] // rows
    line = cv2.getTextSize('Ag', _FONT, scale, 1)[0][1] + 8
    left = max(_text_width(t, scale) for t in row_labels) + 10
    top = line * (2 if column_labels else 1)
    out = np.zeros((panel.shape[0] + top, panel.shape[1] + left, 3), np.uint8)
    out[top:, left:] = panel
    cv2.putText(out, title, (left + 4, line - 6), _FONT, scale, _WHITE, 1, cv2.LINE_AA)
    if column_labels:
        cols = len(column_labels)
        if panel.shape[1] % cols:
            raise ValueError(f'panel width {panel.shape[1]} does not split into {cols} '
                             'columns')
        cell_w = panel.shape[1] // cols
        for i, name in enumerate(column_labels):
            text = _fit(osp.splitext(str(name))[0], cell_w - 4, scale)
            x = left + i * cell_w + (cell_w - _text_width(text, scale)) // 2
            cv2.putText(out, text, (x, 2 * line - 6), _FONT, scale, _GREY, 1, cv2.LINE_AA)
    for r, name in enumerate(row_labels):
        y = top + r * cell_h + cell_h // 2 + line // 2 - 4
        cv2.putText(out, name, (4, y), _FONT, scale, _WHITE, 1, cv2.LINE_AA)
    return out


def labelled_cam_grid(model: nn.Module, images_by_domain: Dict[str, torch.Tensor],
                      names_by_domain: Optional[Dict[str, Sequence[str]]] = None,
                      gap: int = 8, scale: float = 0.4) -> np.ndarray:
    """The CAM panel of every given direction (see :func:`~.cam.direction_panel`), each
    with its direction as title, its row names (real / CAM / reconstruction / translation
    / cycle) and, when ``names_by_domain`` is given, the source file names over the
    columns; stacked top to bottom in the model's domain order. BGR uint8."""
    net = unwrap(model)
    unknown = set(images_by_domain) - set(net.domains)
    if unknown:
        raise KeyError(f'unknown domain(s) {sorted(unknown)}; the model has {net.domains}')
    panels = []
    for src in (d for d in net.domains if d in images_by_domain):
        names = (names_by_domain or {}).get(src)
        panels.append(label_panel(direction_panel(net, images_by_domain[src], src),
                                  [ROW_LABELS[r] for r in ROWS],
                                  f'{src} -> {net.other_domain(src)}', names, scale))
    return stack_panels(panels, gap)

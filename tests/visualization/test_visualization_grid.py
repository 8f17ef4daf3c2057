"""Labelled CAM grids: the panels are unchanged, each label sits in its row / column band."""
import numpy as np
import pytest
import torch

from nicegan_plugin.visualization import ROWS, direction_panel, label_panel, labelled_cam_grid
from nicegan_plugin.visualization.grid import _fit


def _ink(region: np.ndarray) -> int:
    """Number of non-black pixels (text is white/grey on black)."""
    return int((region.max(axis=2) > 60).sum())


def test_label_panel_places_labels_in_their_bands():
    rng = np.random.RandomState(0)
    cell, rows, cols = 40, 3, 4
    panel = rng.randint(0, 256, (rows * cell, cols * cell, 3), dtype=np.uint8)
    out = label_panel(panel, ['real', 'CAM', 'cycle'], 'cat -> dog',
                      ['a.png', 'b.png', 'c.png', 'a_very_long_file_name.png'])
    top, left = out.shape[0] - panel.shape[0], out.shape[1] - panel.shape[1]
    assert top > 0 and left > 0
    np.testing.assert_array_equal(out[top:, left:], panel)  # the pictures are untouched
    line = top // 2
    assert _ink(out[:line, left:]) > 0  # title
    for c in range(cols):  # one column label over each column, none across borders
        assert _ink(out[line:top, left + c * cell + 2:left + (c + 1) * cell - 2]) > 0
        assert _ink(out[line:top, left + c * cell:left + c * cell + 1]) == 0
    for r in range(rows):  # one row label beside each row
        assert _ink(out[top + r * cell:top + (r + 1) * cell, :left]) > 0
    assert _ink(out[top:, :left]) == sum(
        _ink(out[top + r * cell:top + (r + 1) * cell, :left]) for r in range(rows))
    # different words leave different marks
    other = label_panel(panel, ['real', 'CAM', 'translation'], 'cat -> dog')
    assert not np.array_equal(other[-cell:, :left][:, :30], out[-cell:, :left][:, :30])
    with pytest.raises(ValueError, match='does not split into 7 rows'):
        label_panel(panel, ['a'] * 7, 't')


def test_long_names_are_shortened_to_fit():
    assert _fit('x.png', 100, 0.4) == 'x.png'
    short = _fit('a_very_long_file_name_indeed_007', 40, 0.4)
    assert short.startswith('..') and short.endswith('_007') and len(short) < 20


def test_labelled_cam_grid_contains_the_official_panels(build_tiny_model):
    torch.manual_seed(0)
    model = build_tiny_model('day', 'night', img_size=64).eval()
    images = {'day': torch.rand(3, 3, 64, 64) * 2 - 1, 'night': torch.rand(2, 3, 64, 64) * 2 - 1}
    names = {'day': ['d1.png', 'd2.png', 'd3.png'], 'night': ['n1.png', 'n2.png']}
    grid = labelled_cam_grid(model, images, names, gap=8)
    panels = {d: direction_panel(model, images[d], d) for d in images}
    assert panels['day'].shape == (len(ROWS) * 64, 3 * 64, 3)
    labelled = {d: label_panel(panels[d], ['real', 'CAM', 'reconstruction', 'translation',
                                           'cycle'], f'{d} -> {o}', names[d])
                for d, o in (('day', 'night'), ('night', 'day'))}
    h0 = labelled['day'].shape[0]
    np.testing.assert_array_equal(grid[:h0, :labelled['day'].shape[1]], labelled['day'])
    np.testing.assert_array_equal(grid[h0:h0 + 8], 0)
    bottom = grid[h0 + 8:]
    np.testing.assert_array_equal(bottom[:, :labelled['night'].shape[1]], labelled['night'])
    np.testing.assert_array_equal(bottom[:, labelled['night'].shape[1]:], 0)  # padded right
    with pytest.raises(KeyError, match='unknown domain'):
        labelled_cam_grid(model, {'cat': images['day']})

"""Tiled translation equals whole-image translation, in bounded memory (issue 20).

The paper-size light networks (ch = 64, 6 AdaILN blocks, n_dis = 7) with random weights
in eval mode translate real cat/dog photos of several sizes whole and tiled; tile sizes
include ones that do not divide the image, the smallest allowed and one larger than the
image. A dispatch mode records every tensor the tiled run allocates, so a stage that ran
on the whole image would fail the memory test.
"""
import copy
import os.path as osp
from typing import Callable, Tuple

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from nicegan_plugin.inference.tiled import (
    ImageTooLargeError,
    TilingError,
    choose_mode,
    estimate_tiled_bytes,
    estimate_whole_bytes,
    format_bytes,
    min_tile,
    store_bytes,
    tiled_translate,
)
from nicegan_plugin.models import NICEGANDiscriminator, NICEGANGenerator
from nicegan_plugin.utils.image_io import read_rgb, resize_rgb
from nicegan_plugin.utils.pixels import to_uint8

#: float32 tolerance of the issue (y in [-1, 1]); measured ~2e-6
ATOL = 1e-4


@pytest.fixture(scope='module')
def nets() -> Tuple[NICEGANDiscriminator, NICEGANGenerator]:
    torch.manual_seed(0)
    gen = NICEGANGenerator(base_channels=64, num_blocks=6, light=True).eval()
    disc = NICEGANDiscriminator(base_channels=64, num_layers=7).eval()
    return disc, gen


@pytest.fixture(scope='module')
def photo(photo_dir) -> Callable[[str, int, int], torch.Tensor]:
    """``photo(name, height, width)``: a real cat/dog photo (178x218), resized to cover
    ``height x width`` and centre-cropped, as a (1, 3, H, W) tensor in [-1, 1]."""
    def load(name: str, height: int, width: int) -> torch.Tensor:
        rgb = read_rgb(osp.join(photo_dir, name))
        h, w = rgb.shape[:2]
        scale = max(height / h, width / w)
        rgb = resize_rgb(rgb, (max(height, round(h * scale)), max(width, round(w * scale))))
        top, left = (rgb.shape[0] - height) // 2, (rgb.shape[1] - width) // 2
        rgb = rgb[top:top + height, left:left + width]
        return torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].float() / 127.5 - 1
    return load


def whole(disc, gen, x) -> Tuple[torch.Tensor, torch.Tensor]:
    """The reference: ``generator(encoder.encode(x))`` and the heatmap ``z.sum(1)``."""
    with torch.no_grad():
        z = disc.encode(x)
        return gen(z), z.sum(dim=1, keepdim=True)


def assert_equal(got, ref) -> None:
    (y, heat), (y_ref, heat_ref) = got, ref
    assert y.shape == y_ref.shape and y.dtype == torch.float32 and y.device.type == 'cpu'
    assert (y - y_ref).abs().max().item() <= ATOL
    # the heatmap sums 128 channels (|heat| ~ 1e4 with random weights): float32 relative
    assert heat.shape == heat_ref.shape
    assert (heat - heat_ref).abs().max().item() <= 1e-6 * heat_ref.abs().max().item() + ATOL


@pytest.mark.parametrize('name,size,tiles', [
    ('cat/103.jpg', (96, 136), (40,)),          # a tile that divides neither side
    ('dog/1092.jpg', (128, 200), (56,)),        # landscape
    ('cat/13.jpg', (132, 96), (36, 512)),       # portrait, odd tile count; one tile
])
def test_tiled_equals_whole_on_photos(nets, photo, name, size, tiles):
    disc, gen = nets
    x = photo(name, *size)
    ref = whole(disc, gen, x)
    for tile in tiles:
        assert_equal(tiled_translate(disc, gen, x, tile, heatmap=True), ref)


def test_smallest_tile_and_memory_storage(nets, photo):
    """The smallest tile min_tile allows is exact too (every tile reads halos from up to
    8 neighbours), with the maps in host memory instead of files. The encoder comes from
    an n_dis = 6 discriminator (same encoder layers, ch = 64), whose heads take 48 px
    inputs (n_dis = 7: 96), so that the reference runs on a small image."""
    _, gen = nets
    disc = NICEGANDiscriminator(base_channels=64, num_layers=6).eval()
    tile = min_tile(disc, gen)
    assert tile == 8  # halo 7 px: the encoder's two 4x4/2 convs and the stem's 3x3
    x = photo('dog/1095.jpg', 48, 60)
    assert_equal(tiled_translate(disc, gen, x, tile, heatmap=True, storage='memory'),
                 whole(disc, gen, x))


def _flat_inputs(photo):
    """Inputs whose tiles are flat (every pixel of a tile equal in every channel): a
    constant map's variance is 0, which the per-tile statistics must report as 0."""
    banded = photo('dog/1112.jpg', 96, 136).clone()
    banded[:, :, :36] = -1      # a black band wider than a tile (letterbox)
    banded[:, :, :, -44:] = -1  # and one down the right side
    grey = photo('cat/14.jpg', 96, 136).clone()
    grey[:, :, 20:76, 30:110] = torch.tensor([0.2, -0.4, 0.6]).view(1, 3, 1, 1)
    h, w = 96, 128  # (the n_dis = 7 reference takes 96 px and more)
    rows = torch.arange(h).view(h, 1) // 16
    cols = torch.arange(w).view(1, w) // 16
    checker = ((rows + cols) % 2 * 2 - 1).float()  # 16 px squares of -1 / 1
    return {
        'black bands': banded,
        'uniform patch': grey,
        'black': torch.full((1, 3, h, w), -1.0),
        'white': torch.full((1, 3, h, w), 1.0),
        'constant grey': torch.full((1, 3, h, w), 0.3),
        'extreme checkerboard': checker.expand(1, 3, h, w).contiguous(),
        'saturated colours': torch.stack([checker, -checker, checker.flip(1)])[None],
    }


@pytest.mark.parametrize('tile', [32, 40])
def test_flat_tiles_constant_images_and_extremes(nets, photo, tile):
    """Flat tiles (black bands, a uniform patch, constant images) and inputs at the
    extremes of the range (-1 and 1 only) tile exactly too: a flat tile once got an
    infinite variance from the CPU statistics kernel and translated 127 grey levels off.

    Normalising a (nearly) constant map divides float32 rounding noise by sqrt(eps):
    on a constant image the whole-image float32 result itself is ~3e-4 from the float64
    one. So the tiled result is held to the float64 reference: no farther from it than
    the whole-image float32 result is, plus ``ATOL``; and to the same 8-bit image within
    one grey level (a rounding tie)."""
    disc, gen = nets
    disc64, gen64 = copy.deepcopy(disc).double(), copy.deepcopy(gen).double()
    for name, x in _flat_inputs(photo).items():
        y, heat = tiled_translate(disc, gen, x, tile, heatmap=True)
        y32, heat32 = whole(disc, gen, x)
        y64, _ = whole(disc64, gen64, x.double())
        err, err32 = ((t.double() - y64).abs().max().item() for t in (y, y32))
        assert err <= err32 + ATOL, f'{name}: tiled {err:.3g} from float64, whole {err32:.3g}'
        grey = np.abs(to_uint8(y.numpy()).astype(int) - to_uint8(y32.numpy())).max()
        assert grey <= 1, f'{name}: {grey} grey levels'
        assert (heat - heat32).abs().max() <= 1e-6 * heat32.abs().max() + ATOL, name


def test_statistics_of_flat_tiles_merge_exactly():
    """Tiles with a flat channel or flat everywhere (variance 0) merge into the statistics
    of the whole map, as float64 ``torch.var`` computes them over the whole map."""
    from nicegan_plugin.inference.tiled.stats import Stats
    torch.manual_seed(0)
    m = torch.randn(1, 5, 24, 36) * 3 + 2
    m[:, :, :12] = 7.25          # the top row of tiles: flat in every channel
    m[:, 2] = -1.5               # channel 2: flat everywhere
    stats = Stats(5)
    for r in (0, 12):
        for c in (0, 18):
            stats.add(m[:, :, r:r + 12, c:c + 18])
    mean_in, var_in, mean_ln, var_ln = stats.moments()
    ref = m.double()
    np.testing.assert_allclose(mean_in, ref.mean(dim=(0, 2, 3)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(var_in, ref.var(dim=(0, 2, 3)).numpy(), rtol=1e-5)
    assert var_in[2] == 0
    assert mean_ln == pytest.approx(ref.mean().item(), rel=1e-6)
    assert var_ln == pytest.approx(ref.var().item(), rel=1e-5)


def test_heatmap_off_returns_none(nets, photo):
    disc, gen = nets
    y, heat = tiled_translate(disc, gen, photo('cat/104.jpg', 64, 64), 32)
    assert heat is None and y.shape == (1, 3, 64, 64)


class _LargestTensor(TorchDispatchMode):
    """Records the largest feature map (elements of a (1, C, ...) tensor, not weights
    nor meta tensors) any ATen op returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in (out if isinstance(out, (tuple, list)) else (out,)):
            if isinstance(t, torch.Tensor) and t.device.type != 'meta' \
                    and t.dim() >= 4 and t.shape[0] == 1:
                self.largest = max(self.largest, t.numel())
        return out


def test_tiles_bound_memory(nets, photo):
    """Every tensor of a tiled run is bounded by the tile (the largest is the final
    pass's 64-channel full-resolution block with its 3 px halo); the whole-image run's
    largest is the padded 64 x H x W map. The stored maps peak at store_bytes."""
    disc, gen = nets
    x, tile = photo('cat/136.jpg', 96, 136), 32
    with _LargestTensor() as tiled_mode:
        info = {}
        tiled_translate(disc, gen, x, tile, info=info)
    with _LargestTensor() as whole_mode:
        whole(disc, gen, x)
    assert whole_mode.largest >= 64 * 96 * 136  # (the reflect-padded 64 x H x W map)
    assert tiled_mode.largest <= 64 * (tile + 16) ** 2 < whole_mode.largest / 5
    assert info['store_peak_bytes'] == store_bytes(disc, gen, 96, 136) == 4 * 24 * 34 * 256 * 4
    assert info['passes'] == 18 and info['tiles'] == 3 * 5


def test_bad_input_is_one_line(nets, photo, tmp_path):
    disc, gen = nets
    x = photo('cat/138.jpg', 64, 64)
    cases = [
        (dict(tile=4), 'smaller than the 8 px'),
        (dict(x=x[:, :, :62]), 'multiples of 4'),
        (dict(gen=NICEGANGenerator(base_channels=8, num_blocks=1, light=False).eval()),
         'light=False'),
        # 400000 x 400000 px (an expanded view: no memory): ~40 TB of maps
        (dict(x=torch.zeros(1, 3, 1, 1).expand(1, 3, 400000, 400000)),
         r'needs [\d.]+ TiB of temporary files'),
        (dict(x=torch.zeros(1, 3, 1, 1).expand(1, 3, 400000, 400000), storage='memory'),
         r'[\d.]+ TiB of host memory'),
        (dict(x=x.double()), 'float32'),
    ]
    for kwargs, expected in cases:
        args = dict(disc=disc, gen=gen, x=x, tile=32, storage='disk')
        args.update(kwargs)
        with pytest.raises(TilingError, match=expected) as err:
            tiled_translate(args['disc'], args['gen'], args['x'], args['tile'],
                            storage=args['storage'], workdir=str(tmp_path))
        assert '\n' not in str(err.value)
    disc.train()
    try:
        before = {k: v.clone() for k, v in disc.state_dict().items()}
        with pytest.raises(TilingError, match='eval'):
            tiled_translate(disc, gen, x, 32)
        # the dry runs behind these never evaluate a spectral norm (no power iteration)
        assert min_tile(disc, gen) == 8 and store_bytes(disc, gen, 64, 64) > 0
        with pytest.raises(TilingError, match='even tiled'):
            choose_mode(disc, gen, 64, 64, 0)
    finally:
        disc.eval()
    assert all(torch.equal(v, before[k]) for k, v in disc.state_dict().items())
    full = NICEGANGenerator(base_channels=8, num_blocks=1, light=False)
    with pytest.raises(TilingError, match='light=False'):
        min_tile(disc, full)
    assert not list(tmp_path.iterdir())  # temporary files are unlinked


def test_choose_mode(nets):
    disc, gen = nets
    h, w = 3000, 4000
    whole_b = estimate_whole_bytes(disc, gen, h, w)
    tiled_b = estimate_tiled_bytes(disc, gen, h, w, 512)
    assert tiled_b < whole_b / 4
    assert choose_mode(disc, gen, h, w, whole_b, 512)[:2] == ('whole', None)
    mode, tile, why = choose_mode(disc, gen, h, w, whole_b - 1, 512)
    assert (mode, tile) == ('tiled', 512) and 'tiles of 512 px' in why
    with pytest.raises(ImageTooLargeError, match=r'use a smaller --tile \(\d+ px fits\)'):
        choose_mode(disc, gen, h, w, tiled_b - 1, 512)
    # below what even the smallest tile needs: the advice is a larger budget, not a tile
    least = estimate_tiled_bytes(disc, gen, h, w, 8)
    for tile in (None, 8, 512):
        with pytest.raises(ImageTooLargeError,
                           match=f'raise --max-memory to at least {format_bytes(least)}'):
            choose_mode(disc, gen, h, w, least - 1, tile)
    assert choose_mode(disc, gen, h, w, least, None)[:2] == ('tiled', 8)
    # no tile given: the largest multiple of 32 whose estimate fits
    mode, tile, _ = choose_mode(disc, gen, h, w, tiled_b, None)
    assert mode == 'tiled' and tile % 32 == 0 and tile >= 512
    assert estimate_tiled_bytes(disc, gen, h, w, tile) <= tiled_b < \
        estimate_tiled_bytes(disc, gen, h, w, tile + 32)
    side = max(h, w)  # a budget just under the whole image's: large tiles, one at most
    mode, tile, _ = choose_mode(disc, gen, h, w, whole_b - 1, None)
    assert mode == 'tiled' and tile <= side and (
        tile == side or estimate_tiled_bytes(disc, gen, h, w, side) > whole_b - 1)
    # the maps in host memory count against the budget
    assert estimate_tiled_bytes(disc, gen, h, w, 512, storage='memory') == \
        tiled_b + store_bytes(disc, gen, h, w)

"""The translator: one direction of a trained model behind one interface.

A *translator* takes RGB images in [-1, 1], (N, 3, H, W) float32, and returns their
translation in the same space and, when it has one, the source encoder's CAM heatmap
(N, 1, H/4, W/4). Every way of translating goes through one: the tools, the Python API,
the CAM panels, the MMagic inferencer, the demo and the exported files.

- :class:`Translator`: the interface and its *spec* (the JSON dict an exported file
  carries: domains, direction, the sizes the network takes); sizes are checked against
  it before running, so a wrong size gives one clear line.
- :class:`TorchTranslator`: a loaded model in this process. Its networks are the ones
  the model's own eval-mode ``translation()`` uses: the source discriminator's encoder
  and :meth:`NICEGAN.inference_generator` (the EMA generator when ``ema`` is on).
  Light NICE-GAN models also translate exactly tile by tile (:mod:`.tiled`).
- The ONNX / TorchScript translators live in :mod:`nicegan_plugin.deploy.backends`.
- :func:`resolve_direction`, :func:`model_image_size`: what a translation needs to know.
"""
import abc
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..utils.model_utils import eval_mode, model_device, model_domains, unwrap
from ..utils.pixels import ModelIO, to_model_range, to_uint8
from ..version import __version__
from . import tiled

#: key of the spec in ONNX ``metadata_props`` / TorchScript extra files (``<key>.json``)
META_KEY = 'nicegan_translator'
#: schema version of the spec
SPEC_VERSION = 1
#: two stride-2 convs in the encoder, two x2 PixelShuffles in the generator: a side
#: of 4k + r px comes out as 4k px, so only multiples of 4 keep the input's size
SIZE_MULTIPLE = 4

Outputs = Tuple[np.ndarray, Optional[np.ndarray]]


# ------------------------------------------------------------------ directions
def direction_table(domains: Sequence[str]) -> Dict[str, Tuple[str, str]]:
    """``{'a2b': (a, b), 'b2a': (b, a), '<a>2<b>': (a, b), '<b>2<a>': (b, a)}``."""
    a, b = domains
    return {'a2b': (a, b), 'b2a': (b, a), f'{a}2{b}': (a, b), f'{b}2{a}': (b, a)}


def resolve_direction(model_or_domains: Any, direction: str) -> Tuple[str, str]:
    """(source, target) for ``'a2b'`` (domains[0] -> domains[1]), ``'b2a'`` or
    ``'<source>2<target>'`` spelled with the domain names; takes a model or its two
    domain names."""
    domains = (list(model_or_domains) if isinstance(model_or_domains, (list, tuple))
               else model_domains(model_or_domains))
    named = direction_table(domains)
    if direction not in named:
        raise ValueError(f'unknown direction {direction!r}; use one of {sorted(named)}')
    return named[direction]


def other_domain(domains: Sequence[str], domain: str) -> str:
    """The other of two domains."""
    a, b = domains
    return b if domain == a else a


# ------------------------------------------------------------------ image size
def _pipeline_size(pipeline) -> Optional[Tuple[int, int]]:
    for t in pipeline or []:
        scale = t.get('scale') if isinstance(t, dict) and t.get('type') == 'Resize' else None
        if isinstance(scale, (tuple, list)) and len(scale) == 2 and \
                all(isinstance(s, int) for s in scale):
            return int(scale[1]), int(scale[0])  # mmcv.imresize takes (w, h)
    return None


def config_image_size(cfg) -> Tuple[Optional[Tuple[int, int]], str]:
    """(height, width) a config's test data is resized to, and where it was found: the
    test dataloader's pipeline (what ``tools/test.py`` runs), else the top-level
    ``test_pipeline`` variable, else the generator's ``img_size``; (None, '') if none."""
    loader = (cfg.get('test_dataloader') or {}).get('dataset', {}) if cfg else {}
    for where, pipeline in (('test_dataloader.dataset.pipeline', loader.get('pipeline')),
                            ('test_pipeline', cfg.get('test_pipeline') if cfg else None)):
        size = _pipeline_size(pipeline)
        if size:
            return size, f'the config\'s {where}'
    gen = cfg.model.get('generator', {}) if cfg and 'model' in cfg else {}
    if gen.get('img_size'):
        return (int(gen.img_size),) * 2, 'the config\'s model.generator.img_size'
    return None, ''


def model_image_size(model: nn.Module) -> Tuple[int, int]:
    """(height, width) the model was trained at: ``trained_image_size`` as recorded in
    its checkpoint (set by :func:`nicegan_plugin.apis.load_model`), else what its config's
    test data is resized to (:func:`config_image_size`), else the generator's
    ``img_size`` (256 by default)."""
    net = unwrap(model)
    size = getattr(net, 'trained_image_size', None)
    if size:
        return int(size[0]), int(size[1])
    size, _ = config_image_size(getattr(net, 'cfg', None))
    if size:
        return size
    gens = getattr(net, 'generators', None)
    gen = next(iter(gens.values())) if gens else None
    side = int(getattr(gen, 'img_size', 256))
    return side, side


# ------------------------------------------------------------------ interface
class Translator(abc.ABC):
    """One direction of a model behind one interface (see the module docstring).

    Args:
        spec: the translator's JSON spec (``input``: ``height``, ``width``,
            ``dynamic_size``, ``size_multiple``, ``min_size``; ``outputs``; domains).
        origin: what it was opened from, for messages (a file name or ``'model'``).
    """
    name = ''

    def __init__(self, spec: Dict[str, Any], origin: str) -> None:
        check_spec(spec, origin)
        self.spec = spec
        self.origin = origin

    # ------------------------------------------------------------------ spec
    @property
    def source_domain(self) -> str:
        return self.spec['source_domain']

    @property
    def target_domain(self) -> str:
        return self.spec['target_domain']

    @property
    def domains(self) -> List[str]:
        return list(self.spec.get('domains', [self.source_domain, self.target_domain]))

    @property
    def has_heatmap(self) -> bool:
        return any(o['name'] == 'heatmap' for o in self.spec['outputs'])

    @property
    def dynamic_size(self) -> bool:
        return bool(self.spec['input']['dynamic_size'])

    @property
    def light(self) -> bool:
        return bool(self.spec.get('light', False))

    @property
    def image_size(self) -> Tuple[int, int]:
        """(height, width) the model was trained at (the fixed size if not dynamic)."""
        return int(self.spec['input']['height']), int(self.spec['input']['width'])

    def accepted_sizes(self) -> str:
        """The sizes this translator takes, in words."""
        inp = self.spec['input']
        if not self.dynamic_size:
            h, w = self.image_size
            return f'{h}x{w} only'
        return (f'heights and widths that are multiples of {inp["size_multiple"]} and at '
                f'least {inp["min_size"]} px')

    def native_size(self, height: int, width: int) -> Tuple[int, int]:
        """The smallest accepted (height, width) >= the given one (for padding)."""
        if not self.dynamic_size:
            raise ValueError(f'{self.origin} takes {self.accepted_sizes()}, so it cannot '
                             'translate at native size (export a light model with '
                             '--dynamic-size, or translate with resizing)')
        m, lo = self.spec['input']['size_multiple'], self.spec['input']['min_size']
        return tuple(max(lo, -(-s // m) * m) for s in (height, width))

    def check_size(self, height: int, width: int) -> None:
        """ValueError naming the accepted sizes if the network cannot take this size."""
        if self.dynamic_size:
            m, lo = self.spec['input']['size_multiple'], self.spec['input']['min_size']
            ok = height % m == 0 and width % m == 0 and min(height, width) >= lo
        else:
            ok = (height, width) == self.image_size
        if not ok:
            fix = 'resize the image (the default of tools/translate.py)'
            if self.dynamic_size:
                fix = ('(e.g. {}x{}); '.format(*self.native_size(height, width)) + fix +
                       ' or pad it (--native-size)')
            else:
                fix = '; ' + fix
            raise ValueError(f'{self.origin} cannot take a {height}x{width} image: it takes '
                             f'{self.accepted_sizes()} {fix}'.replace(' ;', ';'))

    def check_direction(self, direction: str) -> None:
        """ValueError unless ``direction`` ('a2b', 'b2a', '<src>2<tgt>') is this one."""
        if direction_table(self.domains).get(direction) != (self.source_domain,
                                                            self.target_domain):
            raise ValueError(f'{self.origin} translates {self.source_domain} -> '
                             f'{self.target_domain} only, not {direction!r}; export the '
                             'other direction with tools/export.py --direction')

    def describe(self) -> str:
        s = self.spec
        return (f'{self.name} translator {s["source_domain"]} -> {s["target_domain"]} '
                f'({self.origin}; {self.accepted_sizes()})')

    # --------------------------------------------------------------- running
    @abc.abstractmethod
    def _run(self, x: np.ndarray) -> Outputs:
        """(translation, heatmap or None) for a checked float32 batch."""

    def forward(self, x: np.ndarray) -> Outputs:
        """(N, 3, H, W) float32 RGB in [-1, 1] -> (translation (N, 3, H, W),
        heatmap (N, 1, H/4, W/4) or None), float32 numpy."""
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f'{self.origin} takes (N, 3, H, W) RGB batches, got shape '
                             f'{tuple(x.shape)}')
        self.check_size(x.shape[2], x.shape[3])
        return self._run(np.ascontiguousarray(x, dtype=np.float32))

    def translate(self, images: Sequence[np.ndarray]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """HxWx3 RGB uint8 images of one accepted size -> ((N, H, W, 3) uint8,
        heatmaps (N, H/4, W/4) float32 or None)."""
        y, heat = self.forward(to_model_range(np.stack(images)))
        return to_uint8(y), (heat[:, 0] if heat is not None else None)

    # --------------------------------------------------------------- tiling
    @property
    def supports_tiling(self) -> bool:
        """Whether :meth:`forward_tiled` works: exact tile-by-tile translation in memory
        bounded by the tile (only in-process light NICE-GAN translators)."""
        return False

    def check_tile(self, tile: Optional[int] = None) -> None:
        """ValueError unless this translator can tile, and ``tile`` (if given) is a tile
        size its network can run (one message, one advice: :func:`.tiled.check_tile`)."""
        if not self.supports_tiling:
            raise ValueError(f'{self.origin} ({self.name}) cannot translate tile by tile: '
                             'tiling needs a light NICE-GAN checkpoint run in PyTorch '
                             '(CONFIG CHECKPOINT without --backend); the full (light=False) '
                             'model cannot run at native size at all')

    def choose_mode(self, height: int, width: int, budget: int,
                    tile: Optional[int] = None) -> Tuple[str, Optional[int], str]:
        """``('whole', None, why)`` or ``('tiled', tile, why)`` for one image of this size
        within ``budget`` bytes (:func:`.tiled.choose_mode`)."""
        self.check_tile(tile)
        raise NotImplementedError

    def forward_tiled(self, x: np.ndarray, tile: int, log=None) -> Outputs:
        """:meth:`forward` of one (1, 3, H, W) image computed tile by tile, exactly."""
        self.check_tile(tile)
        raise NotImplementedError


def check_spec(spec: Any, origin: str) -> None:
    """ValueError unless ``spec`` is a translator spec this plugin can read."""
    need = ('source_domain', 'target_domain', 'input', 'outputs')
    if not isinstance(spec, dict) or any(k not in spec for k in need):
        raise ValueError(f'{origin}: translator metadata lacks {list(need)}; '
                         're-export it with tools/export.py')
    if spec.get('spec_version', SPEC_VERSION) > SPEC_VERSION:
        raise ValueError(f'{origin} was written by a newer nicegan_plugin (spec version '
                         f'{spec["spec_version"]} > {SPEC_VERSION}); update the plugin')


# ------------------------------------------------------------------ networks
class TranslatorNet(nn.Module):
    """``image -> (generator(encoder.encode(image)), heatmap)`` in RGB [-1, 1].

    The module an exported file holds, and what :class:`TorchTranslator` runs.

    Args:
        encoder: the source domain's discriminator (only ``encode`` is used).
        generator: the target domain's generator (the model's inference generator).
        heatmap: also return the source CAM heatmap, ``z.sum(1, keepdim=True)``.
        io: the model's :class:`ModelIO`: a preprocessor other than RGB with
            mean = std = 127.5 adds the conversion to and from its space.
    """

    def __init__(self, encoder: nn.Module, generator: nn.Module, heatmap: bool = False,
                 io: Optional[ModelIO] = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.generator = generator
        self.heatmap = heatmap
        self.flip = bool(io and io.model_is_bgr)
        mean = io.mean if io is not None else torch.full((1, 1, 1), 127.5)
        std = io.std if io is not None else torch.full((1, 1, 1), 127.5)
        self.affine = not (torch.all(mean == 127.5) and torch.all(std == 127.5))
        # model space = (rgb_uint8 - mean) / std with rgb_uint8 = 127.5 * (image + 1)
        self.register_buffer('mean', mean.float().view(1, -1, 1, 1).clone(), persistent=False)
        self.register_buffer('std', std.float().view(1, -1, 1, 1).clone(), persistent=False)

    def to_model_space(self, x: torch.Tensor) -> torch.Tensor:
        if self.flip:
            x = x.flip(1)
        return (x * 127.5 + 127.5 - self.mean) / self.std if self.affine else x

    def from_model_space(self, y: torch.Tensor) -> torch.Tensor:
        if self.affine:
            y = ((y * self.std + self.mean) - 127.5) / 127.5
        return y.flip(1) if self.flip else y

    def forward(self, image: torch.Tensor):
        z = self.encoder.encode(self.to_model_space(image))
        y = self.from_model_space(self.generator(z))
        if self.heatmap:
            return y, torch.sum(z, dim=1, keepdim=True)
        return y


class _ModelTranslationNet(nn.Module):
    """Any MMagic translation model (e.g. CycleGAN): ``model.translation(x, target)`` in
    RGB [-1, 1]; no heatmap."""

    def __init__(self, model: nn.Module, target: str) -> None:
        super().__init__()
        self.model = model
        self.target = target
        self.io = ModelIO(model)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        y = self.model.translation(self.io.from_unit_rgb(image), target_domain=self.target)
        return self.io.to_unit_rgb(y)


def is_nicegan(model: nn.Module) -> bool:
    """Whether ``model`` is a NICE-GAN model (its encoders are its discriminators)."""
    net = unwrap(model)
    return hasattr(net, 'encode') and hasattr(net, 'inference_generator')


def translator_net(model: nn.Module, source: str, target: str,
                   heatmap: bool = False) -> TranslatorNet:
    """A view (no copy) of the networks that translate ``source`` -> ``target`` in eval
    mode: ``discriminators[source]`` as encoder and ``inference_generator(target)``
    (``source == target`` gives the reconstruction through the domain's own pair)."""
    net = unwrap(model)
    return TranslatorNet(net.discriminators[source], net.inference_generator(target),
                         heatmap, ModelIO(net))


def translator_spec(model: nn.Module, direction: str, heatmap: bool = False,
                    dynamic_size: bool = False,
                    image_size: Optional[Tuple[int, int]] = None) -> Dict[str, Any]:
    """The JSON spec of one direction of ``model`` (see :class:`Translator`).

    ``image_size``: the training size to record (default :func:`model_image_size`)."""
    net = unwrap(model)
    source, target = resolve_direction(net, direction)
    nice = is_nicegan(net)
    gen = net.inference_generator(target) if nice else None
    light = bool(getattr(gen, 'light', False)) if nice else False
    height, width = image_size or model_image_size(net)
    if nice and not light:
        height = width = int(gen.img_size)
    dynamic = bool(dynamic_size and light)
    if nice:
        disc = net.discriminators[source]
        min_side = disc.min_input_size() if hasattr(disc, 'min_input_size') else SIZE_MULTIPLE
    else:
        min_side = SIZE_MULTIPLE
    min_size = -(-max(min_side, 2 * SIZE_MULTIPLE) // SIZE_MULTIPLE) * SIZE_MULTIPLE
    side = ('height', 'width') if dynamic else (height, width)
    quarter = ('height/4', 'width/4') if dynamic else (height // 4, width // 4)
    outputs = [dict(name='translation', shape=['batch', 3, *side], channel_order='RGB',
                    value_range=[-1, 1], meaning=f'the image translated into {target}')]
    if heatmap and nice:
        outputs.append(dict(name='heatmap', shape=['batch', 1, *quarter],
                            meaning=f'CAM heatmap of the {source} encoder (channel sum of '
                                    'its features z); min-max normalize it to display it'))
    a, b = model_domains(net)
    return dict(
        spec_version=SPEC_VERSION, kind=META_KEY, model=type(net).__name__,
        domains=[a, b], direction=f'{source}2{target}', source_domain=source,
        target_domain=target, light=light, img_size=[height, width],
        ema=bool(getattr(net, 'generators_ema', None) is not None),
        input=dict(name='image', shape=['batch', 3, *side], dtype='float32', layout='NCHW',
                   channel_order='RGB', value_range=[-1, 1], height=height, width=width,
                   dynamic_size=dynamic, size_multiple=SIZE_MULTIPLE, min_size=min_size),
        outputs=outputs,
        preprocessing=('x = (rgb_uint8 - 127.5) / 127.5, resized (bilinear) to '
                       f'{height}x{width}' + (' or any accepted size' if dynamic else '')),
        postprocessing='rgb_uint8 = round(clip(y * 127.5 + 127.5, 0, 255))',
        nicegan_plugin=__version__, torch=torch.__version__)


class TorchTranslator(Translator):
    """A loaded model's direction, run in this process in eval mode under ``no_grad`` on
    the model's device (see the module docstring).

    Args:
        model: a NICE-GAN model (or any MMagic translation model: no heatmap, no
            native size), typically from :func:`nicegan_plugin.apis.load_model`.
        direction: ``'a2b'``, ``'b2a'`` or ``'<src>2<tgt>'``.
        heatmap: also return the CAM heatmap (NICE-GAN only).
    """
    name = 'pytorch'

    def __init__(self, model: nn.Module, direction: str = 'a2b', heatmap: bool = True) -> None:
        net = unwrap(model)
        nice = is_nicegan(net)
        if heatmap and not nice:
            heatmap = False
        super().__init__(translator_spec(net, direction, heatmap, dynamic_size=nice), 'model')
        self.model = net
        source, target = self.source_domain, self.target_domain
        self.net = (translator_net(net, source, target, heatmap) if nice
                    else _ModelTranslationNet(net, target))

    @property
    def supports_tiling(self) -> bool:
        return self.light and isinstance(self.net, TranslatorNet)

    def check_tile(self, tile: Optional[int] = None) -> None:
        super().check_tile(tile)
        if tile is not None:
            tiled.check_tile(self.net.encoder, self.net.generator, tile)

    def choose_mode(self, height: int, width: int, budget: int,
                    tile: Optional[int] = None) -> Tuple[str, Optional[int], str]:
        self.check_tile(tile)
        return tiled.choose_mode(self.net.encoder, self.net.generator, height, width,
                                 budget, tile, device=self.device.type)

    @property
    def device(self) -> torch.device:
        return model_device(self.model)

    def forward_tensor(self, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The same as :meth:`forward` on a (N, 3, H, W) tensor on any device (no size
        check, no host copies): for callers that already hold tensors."""
        with eval_mode(self.model):
            out = self.net(x.to(self.device))
        return out if isinstance(out, tuple) else (out, None)

    def _run(self, x: np.ndarray) -> Outputs:
        y, heat = self.forward_tensor(torch.from_numpy(x))
        return (y.float().cpu().numpy(),
                heat.float().cpu().numpy() if heat is not None else None)

    def forward_tiled(self, x: np.ndarray, tile: int, log=None) -> Outputs:
        """:meth:`forward` of one (1, 3, H, W) image computed tile by tile, exactly
        (:func:`nicegan_plugin.inference.tiled.tiled_translate`): memory bounded by the
        tile, not the image."""
        self.check_tile(tile)
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
            raise ValueError(f'tiled translation takes one (1, 3, H, W) image, got '
                             f'{tuple(x.shape)}')
        self.check_size(x.shape[2], x.shape[3])
        net = self.net
        image = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
        with eval_mode(self.model):
            y, heat = tiled.tiled_translate(net.encoder, net.generator,
                                            net.to_model_space(image), tile,
                                            heatmap=net.heatmap, log=log)
            y = net.from_model_space(y.to(self.device))
        return (y.float().cpu().numpy(),
                heat.float().cpu().numpy() if heat is not None else None)

"""Loading a trained translation model (NICE-GAN, MMagic's CycleGAN) for inference.

- :func:`load_model`: errors that name the file and the offending key (a wrong
  checkpoint otherwise loads with mere warnings under MMEngine's non-strict loading
  and translates garbage).
- :func:`model_image_size`, :func:`resolve_direction`: what a translation needs to
  know about the model.
"""
import os.path as osp
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config

from ..engine.checkpoint import check_state_dict, read_state_dict
from ..utils.model_utils import unwrap


def _load_config(config: Union[str, Config]) -> Config:
    if isinstance(config, Config):
        cfg = config
    else:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config}')
        try:
            cfg = Config.fromfile(config)
        except Exception as err:  # syntax errors, bad _base_, failed custom_imports
            raise ValueError(f'cannot parse config {config}: {type(err).__name__}: {err}') \
                from err
    if 'model' not in cfg:
        raise KeyError(f'config {getattr(cfg, "filename", config)} has no `model` key')
    return cfg


def load_model(config: Union[str, Config], checkpoint: Optional[str],
               device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """Build the config's model with ``mmagic.apis.init_model`` and load a
    checkpoint strictly; returns it on ``device`` in eval mode with ``model.cfg``."""
    from mmagic.apis import init_model
    cfg = _load_config(config)
    state = read_state_dict(checkpoint) if checkpoint else None
    model = init_model(cfg, None, device='cpu')
    if not callable(getattr(model, 'translation', None)) or len(model_domains(model)) != 2:
        raise ValueError(f'config {getattr(cfg, "filename", config)}: model type '
                         f'{cfg.model.get("type")} is not a two-domain translation model '
                         '(NICE-GAN, or an MMagic model with translation(x, target_domain))')
    if state is not None:
        check_state_dict(model, state, checkpoint)
        model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def model_domains(model: nn.Module) -> List[str]:
    """The model's reachable domains: NICE-GAN's ``domains``, or those of any MMagic
    ``BaseTranslationModel`` (e.g. CycleGAN)."""
    net = unwrap(model)
    return list(getattr(net, 'domains', None) or getattr(net, '_reachable_domains', None) or [])


def other_domain(model: nn.Module, domain: str) -> str:
    """The other of the model's two domains."""
    a, b = model_domains(model)
    return b if domain == a else a


def model_image_size(model: nn.Module) -> Tuple[int, int]:
    """(height, width) the model was trained at: the ``Resize`` of the config's test
    pipeline, else the generator's ``img_size``, else 256."""
    net = unwrap(model)
    cfg = getattr(net, 'cfg', None)
    pipeline = None
    if cfg is not None:
        pipeline = cfg.get('test_pipeline') or \
            cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline')
    for t in pipeline or []:
        scale = t.get('scale') if isinstance(t, dict) and t.get('type') == 'Resize' else None
        if isinstance(scale, (tuple, list)) and len(scale) == 2 and \
                all(isinstance(s, int) for s in scale):
            return int(scale[1]), int(scale[0])  # mmcv.imresize takes (w, h)
    if cfg is not None and cfg.model.get('generator', {}).get('img_size'):
        size = int(cfg.model.generator.img_size)
        return size, size
    gen = next(iter(net.generators.values()))
    size = int(getattr(gen, 'img_size', 256))
    return size, size


def resolve_direction(model: nn.Module, direction: str) -> Tuple[str, str]:
    """(source, target) domains for ``'a2b'`` (domains[0] -> domains[1]), ``'b2a'``,
    or ``'<source>2<target>'`` spelled with the model's domain names."""
    a, b = model_domains(model)
    named = {'a2b': (a, b), 'b2a': (b, a), f'{a}2{b}': (a, b), f'{b}2{a}': (b, a)}
    if direction not in named:
        raise ValueError(f'unknown direction {direction!r}; use one of {sorted(named)}')
    return named[direction]

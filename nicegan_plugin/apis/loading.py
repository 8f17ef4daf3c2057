"""Loading a trained translation model (NICE-GAN, MMagic's CycleGAN) for inference.

:func:`load_model` gives errors that name the file and the offending key (a wrong
checkpoint otherwise loads with mere warnings under MMEngine's non-strict loading and
translates garbage), and records the image size the model was trained at (the
checkpoint's ``meta``) as ``model.trained_image_size``: every tool then resizes to it.
:func:`load_translator` opens whatever the tools take: CONFIG + CHECKPOINT, or an
exported file; :func:`translator_for` runs a loaded model in PyTorch
(:class:`~nicegan_plugin.inference.TorchTranslator`, no ``deploy/`` involved) or
exports it on the fly.
"""
import copy
import os.path as osp
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config

from ..engine.checkpointing.image_size import IMG_SIZE_KEY
from ..engine.checkpointing.reading import check_state_dict, read_weights_and_meta
from ..engine.config.derived_keys import derive_keys
from ..inference.translator import (
    TorchTranslator,
    Translator,
    config_image_size,
    resolve_direction,
)
from ..utils.model_utils import model_domains


def load_config(config: Union[str, Config]) -> Config:
    """A config (path or object; an object is copied) that has a ``model``, with the keys
    its data set's values decide worked out (:func:`~nicegan_plugin.engine.config.derived_keys.
    derive_keys`, as the training runner does); one-line errors naming the file."""
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
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
    return derive_keys(cfg)


def load_model(config: Union[str, Config], checkpoint: Optional[str],
               device: Union[str, torch.device] = 'cpu',
               img_size: Optional[Tuple[int, int]] = None,
               log: Optional[Callable[[str], None]] = None) -> nn.Module:
    """Build the config's model with ``mmagic.apis.init_model`` and load a checkpoint
    strictly; returns it on ``device`` in eval mode with ``model.cfg`` and
    ``model.trained_image_size`` ((height, width) the translations resize to).

    The size is the one the checkpoint recorded (``meta['img_size']``); ``img_size``
    overrides it explicitly. A config whose test data is resized to another size is
    not followed silently: ``log`` says which size is used and why.
    """
    from mmagic.apis import init_model
    cfg = load_config(config)
    state, meta = read_weights_and_meta(checkpoint) if checkpoint else (None, {})
    model = init_model(cfg, None, device='cpu')
    if not callable(getattr(model, 'translation', None)) or len(model_domains(model)) != 2:
        raise ValueError(f'config {getattr(cfg, "filename", config)}: model type '
                         f'{cfg.model.get("type")} is not a two-domain translation model '
                         '(NICE-GAN, or an MMagic model with translation(x, target_domain))')
    if state is not None:
        check_state_dict(model, state, checkpoint)
        model.load_state_dict(state, strict=True)
    model.trained_image_size = _trained_size(cfg, checkpoint, meta.get(IMG_SIZE_KEY),
                                             img_size, log)
    return model.to(device).eval()


def _trained_size(cfg: Config, checkpoint: Optional[str], recorded, explicit,
                  log: Optional[Callable[[str], None]]) -> Optional[Tuple[int, int]]:
    """The size translations resize to, and a log line when sources disagree."""
    from_cfg, where = config_image_size(cfg)
    recorded = tuple(int(s) for s in recorded) if recorded else None
    if explicit:
        explicit = (int(explicit[0]), int(explicit[-1]))
        if log and recorded and explicit != recorded:
            log(f'note: translating at {explicit[0]}x{explicit[1]} as asked, although the '
                f'model was trained at {recorded[0]}x{recorded[1]} ({checkpoint})')
        return explicit
    if recorded:
        if log and from_cfg and from_cfg != recorded:
            log(f'note: the model was trained at {recorded[0]}x{recorded[1]} ({checkpoint}); '
                f'{where} says {from_cfg[0]}x{from_cfg[1]}, which is not used (pass '
                '--img-size to translate at another size)')
        return recorded
    return None  # older checkpoints: the config's size (model_image_size)


def translator_for(model: nn.Module, backend: Optional[str] = None, direction: str = 'a2b',
                   heatmap: bool = False) -> Translator:
    """A translator for a loaded model: ``backend`` None / ``'pytorch'`` runs it in-process
    (:class:`~nicegan_plugin.inference.TorchTranslator`); ``'onnxruntime'`` /
    ``'torchscript'`` export it into a temporary folder, verify and open the file
    (:func:`nicegan_plugin.deploy.export.model_translator`)."""
    if backend in (None, 'pytorch'):
        return TorchTranslator(model, direction, heatmap)
    from ..deploy.export import model_translator
    return model_translator(model, backend, direction, heatmap)


def load_translator(config: Optional[str] = None, checkpoint: Optional[str] = None,
                    model_file: Optional[str] = None, direction: Optional[str] = None,
                    backend: Optional[str] = None, device: str = 'cpu', heatmap: bool = True,
                    img_size: Optional[Tuple[int, int]] = None,
                    log: Optional[Callable[[str], None]] = None) -> Translator:
    """The translator the tools run: an exported file (``model_file``; its direction is
    fixed, ``direction`` is checked against it), or CONFIG + CHECKPOINT run in PyTorch
    (``backend`` None / ``'pytorch'``) or exported on the fly (``'onnxruntime'``,
    ``'torchscript'``)."""
    if model_file and (config or checkpoint):
        raise ValueError('pass either CONFIG CHECKPOINT or --model FILE, not both')
    if model_file:
        if backend == 'pytorch':
            raise ValueError('--backend pytorch needs CONFIG CHECKPOINT; an exported file '
                             'runs with --backend onnxruntime (ONNX) or torchscript')
        from ..deploy.backends import open_translator
        translator = open_translator(model_file, backend, device)
        if direction:
            translator.check_direction(direction)
        return translator
    if not (config and checkpoint):
        raise ValueError('pass CONFIG CHECKPOINT, or --model FILE (a file written by '
                         'tools/export.py)')
    model = load_model(config, checkpoint, device, img_size, log)
    resolve_direction(model, direction or 'a2b')  # a clear error before any export
    return translator_for(model, backend, direction or 'a2b', heatmap)

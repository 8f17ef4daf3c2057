"""MMagic's CycleGAN networks with an ``init_weights`` that works inside a model.

MMagic 1.2's ``ResnetGenerator`` and ``PatchDiscriminator`` initialise through
``mmagic.models.utils.generation_init_weights``, whose per-module function defines
``init_info`` only for Conv/Linear/BatchNorm modules but reports it for every module
that carries MMEngine's ``_params_init_info``. ``BaseTranslationModel.init_weights``
(so the Runner, for MMagic's own ``CycleGAN``) gives that attribute to each network,
and the first other module (the network itself, a ReLU, ...) raises
``UnboundLocalError: cannot access local variable 'init_info'``.

The fix is scoped to the call: :class:`InitInsideModelMixin` hides
``_params_init_info`` from the network's modules while MMagic's own ``init_weights``
runs (same function, same random draws), then restores it and records the
initialisation once. Only the registered subclasses below use it; MMagic's classes
are untouched for every other user of the process.
"""
from typing import List, Tuple

import torch.nn as nn
from mmagic.models.archs import PatchDiscriminator
from mmagic.models.editors.cyclegan import ResnetGenerator
from mmagic.registry import MODELS
from mmengine.model.weight_init import update_init_info

_INFO = '_params_init_info'


class InitInsideModelMixin:
    """``init_weights`` of a network that calls ``generation_init_weights``, safe when a
    parent model's ``init_weights`` has shared ``_params_init_info`` with it."""

    def init_weights(self) -> None:
        hidden: List[Tuple[nn.Module, object]] = [
            (m, m.__dict__.pop(_INFO)) for m in self.modules() if _INFO in m.__dict__]
        try:
            super().init_weights()
        finally:
            for module, info in hidden:
                setattr(module, _INFO, info)
        if hidden and hasattr(self, _INFO):
            init_type = getattr(self, 'init_type', 'normal')
            update_init_info(self, f'Initialized by generation_init_weights '
                                   f'(init_type={init_type}) of {type(self).__name__}')


@MODELS.register_module()
class NICEGANFixedInitResnetGenerator(InitInsideModelMixin, ResnetGenerator):
    """MMagic's ``ResnetGenerator`` (same arguments, modules and weights) whose
    ``init_weights`` works inside ``CycleGAN.init_weights`` (see the module doc)."""


@MODELS.register_module()
class NICEGANFixedInitPatchDiscriminator(InitInsideModelMixin, PatchDiscriminator):
    """MMagic's ``PatchDiscriminator`` (same arguments, modules and weights) whose
    ``init_weights`` works inside ``CycleGAN.init_weights`` (see the module doc)."""

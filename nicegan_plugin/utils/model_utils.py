"""Model unwrapping, device lookup and a scoped eval mode."""
from contextlib import contextmanager
from typing import Iterator, List, Tuple

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside an MMEngine model wrapper (DDP, NICEGANDistributedWrapper, ...),
    or the model itself."""
    return model.module if is_model_wrapper(model) else model


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's (first) parameter."""
    return next(unwrap(model).parameters()).device


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode and no_grad inside the block; every submodule's own previous
    ``training`` flag is restored after (not just the top-level one).

    Eval mode matters beyond dropout/BN here: spectral norm runs a power iteration
    (changing its ``u``/``v`` buffers) on every forward in train mode.
    """
    flags: List[Tuple[nn.Module, bool]] = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, flag in flags:
            m.training = flag


def model_domains(model: nn.Module) -> List[str]:
    """The domains of a translation model: NICE-GAN's ``domains``, else those of any
    MMagic ``BaseTranslationModel`` (e.g. CycleGAN), which keeps them only in its
    ``_reachable_domains`` attribute (MMagic 1.2 has no public accessor): the one place
    the plugin reads it."""
    net = unwrap(model)
    return list(getattr(net, 'domains', None) or getattr(net, '_reachable_domains', None) or [])

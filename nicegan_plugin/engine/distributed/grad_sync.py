"""A distributed wrapper for translation models that do not sync their own gradients.

MMagic's CycleGAN calls its networks through ``get_module`` (the module inside a DDP
wrapper), so MMagic's ``MMSeparateDistributedDataParallel`` never runs a DDP forward and
its reducer never averages a gradient; on a CPU it cannot even be built (it passes
``device_ids=[local_rank]``). This wrapper averages each gradient over the ranks as soon
as backward has accumulated it, before any optimizer or GradScaler looks at it.
"""
import torch
import torch.nn as nn
from mmagic.registry import MODEL_WRAPPERS
from mmengine import dist

from .wrapper import NICEGANDistributedWrapper


def _average_gradient(param: torch.Tensor) -> None:
    dist.all_reduce(param.grad, op='mean')


@MODEL_WRAPPERS.register_module()
class NICEGANGradSyncWrapper(NICEGANDistributedWrapper):
    """:class:`NICEGANDistributedWrapper` (rank 0's weights broadcast once, ranks' logged
    losses averaged) plus a per-parameter gradient all-reduce (mean) after each backward.

    Any ``train_step`` works unchanged, with the ``gloo`` (CPU) and ``nccl`` backends:
    backward runs in the same order on every rank, so the all-reduces pair up. Each
    gradient is reduced on its own (no buckets): simple and right, slower than DDP for
    large models. Not for NICE-GAN, which reduces its own gradients.
    """

    def __init__(self, module: nn.Module, broadcast_buffers: bool = True) -> None:
        super().__init__(module, broadcast_buffers)
        if dist.get_world_size() > 1:
            for param in module.parameters():
                if param.requires_grad:
                    param.register_post_accumulate_grad_hook(_average_gradient)

"""A distributed model wrapper for models that sync their own gradients."""
from itertools import chain
from typing import Any

import torch
import torch.nn as nn
from mmagic.registry import MODEL_WRAPPERS
from mmengine import dist


@MODEL_WRAPPERS.register_module()
class NICEGANDistributedWrapper(nn.Module):
    """Broadcasts rank 0's weights once, then delegates the steps to the model.

    ``NICEGAN.train_on_batch`` all-reduces the gradients of exactly the group it is
    about to step (discriminators, then generators), so no DDP reducer is needed:
    no unused-parameter errors from the alternating updates and no all-reduce of
    gradients that are thrown away. Works with the ``gloo`` (CPU) and ``nccl``
    backends alike.
    """

    def __init__(self, module: nn.Module, broadcast_buffers: bool = True) -> None:
        super().__init__()
        self.module = module
        if dist.get_world_size() > 1:
            tensors = chain(module.parameters(), module.buffers()) if broadcast_buffers \
                else module.parameters()
            for t in tensors:
                dist.broadcast(t.data, src=0)

    def train_step(self, data: Any, optim_wrapper: Any) -> Any:
        """Run the model's step; logged values are averaged over ranks, so the log
        shows the losses of the whole (global) batch, as a single process would."""
        log_vars = self.module.train_step(data, optim_wrapper)
        if dist.get_world_size() > 1 and log_vars:
            keys = sorted(log_vars)
            values = torch.stack([log_vars[k].detach().to(torch.float64) for k in keys])
            dist.all_reduce(values, op='mean')
            log_vars = {k: v for k, v in zip(keys, values)}
        return log_vars

    def val_step(self, data: Any) -> Any:
        return self.module.val_step(data)

    def test_step(self, data: Any) -> Any:
        return self.module.test_step(data)

    def forward(self, *args, **kwargs) -> Any:
        return self.module(*args, **kwargs)

"""The training images' size in each checkpoint's ``meta``, so every tool resizes to it.

A checkpoint holds weights, not the size they were trained at; NICE-GAN's full generator is
tied to it and every translation is best at it. :class:`TrainingImageSize` sees the first
training batch and writes ``meta[IMG_SIZE_KEY] = [height, width]`` into each checkpoint the
hook saves; translate, export, test and the demo read it back
(:func:`nicegan_plugin.engine.checkpointing.reading.read_weights_and_meta`).
"""
from typing import Optional, Tuple

import torch

#: key of ``checkpoint['meta']`` holding [height, width] of the training images
IMG_SIZE_KEY = 'img_size'


def batch_image_size(data_batch) -> Optional[Tuple[int, int]]:
    """(height, width) of the first image tensor in a data batch (MMagic's
    ``{'inputs': {'img_A': [tensor, ...], ...}}`` or any nesting of dicts, lists and
    tensors), or None."""
    if isinstance(data_batch, torch.Tensor):
        return tuple(int(s) for s in data_batch.shape[-2:]) if data_batch.dim() >= 3 else None
    items = data_batch.values() if isinstance(data_batch, dict) else \
        data_batch if isinstance(data_batch, (list, tuple)) else ()
    for item in items:
        size = batch_image_size(item)
        if size:
            return size
    return None


class TrainingImageSize:
    """The (height, width) of the training images: taken from the first batch that shows
    one (:meth:`see`), written into a checkpoint's ``meta`` (:meth:`record`)."""

    def __init__(self) -> None:
        self.size: Optional[Tuple[int, int]] = None

    def see(self, data_batch) -> None:
        if self.size is None:
            self.size = batch_image_size(data_batch)

    def record(self, checkpoint: dict) -> None:
        """``checkpoint['meta'][IMG_SIZE_KEY] = [height, width]`` once a batch was seen."""
        if self.size is not None:
            checkpoint.setdefault('meta', {})[IMG_SIZE_KEY] = list(self.size)

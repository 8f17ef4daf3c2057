"""The official NICE-GAN image dump (``A2B_<step>.png``/``B2A_<step>.png``) as an mmengine hook."""
import random
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Sequence

import numpy as np
import torch
from mmagic.registry import HOOKS
from mmengine.dataset import pseudo_collate
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ...utils.model_utils import unwrap
from ...visualization.cam import cam_panels


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore Python's, NumPy's and torch's global RNG states after the block.

    Reading training samples runs random transforms (flip, crop) and the unpaired
    dataset's random B index; restoring the states keeps training bit-identical
    with and without the hook.
    """
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def _loop_dataset(loop):
    """The (first) dataset of a built mmengine loop, else None."""
    if loop is None or isinstance(loop, dict):  # not built (still a config)
        return None
    loader = getattr(loop, 'dataloader', None)
    if loader is None:  # MultiValLoop / MultiTestLoop
        loaders = getattr(loop, 'dataloaders', None) or [None]
        loader = loaders[0]
    return getattr(loader, 'dataset', None)


@HOOKS.register_module()
class NICEGANCAMVisualizationHook(Hook):
    """Writes the official NICE-GAN panels through ``runner.visualizer``, i.e. to each of
    its backends: ``vis_data/vis_image/*.png`` and, with ``tools/train.py --tensorboard``,
    TensorBoard's Images tab.

    One image per direction (``<name>_<src>2<tgt>``, at test ``test_<name>_...``):
    one column per sample; rows real / CAM heatmap / reconstruction / translation
    / cycle (see :func:`nicegan_plugin.apis.cam_panels`). Samples are the first
    ``num_samples`` items of a dataset, through its pipeline and the model's data
    preprocessor, drawn once and reused (fixed samples make panels comparable over
    time). The model runs in eval mode under no_grad and every module's mode is
    restored after; the global RNG states are restored too, so training is not
    altered. Rank 0 only.

    Args:
        interval: draw every ``interval`` training iterations (<= 0: never).
        num_samples: columns per panel.
        data_source: dataset to draw from during training, ``'val'`` or
            ``'train'`` (falls back to the other one if that loop has none).
        on_test: also draw once after the test epoch, from the test dataset.
        name: image name prefix.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 1000, num_samples: int = 4, data_source: str = 'val',
                 on_test: bool = True, name: str = 'cam') -> None:
        if data_source not in ('val', 'train'):
            raise ValueError(f"data_source must be 'val' or 'train', got {data_source!r}")
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        self.interval = interval
        self.num_samples = num_samples
        self.data_source = data_source
        self.on_test = on_test
        self.name = name
        self._samples: Dict[str, Dict[str, torch.Tensor]] = {}

    # ------------------------------------------------------------------ samples
    def _dataset(self, runner, phase: str):
        order: Sequence[str] = ('test', 'val', 'train') if phase == 'test' else \
            (self.data_source, 'train' if self.data_source == 'val' else 'val')
        for loop in order:
            # only loops the runner has already built: building one here would
            # build its dataloader and evaluator as a side effect
            dataset = _loop_dataset(getattr(runner, f'_{loop}_loop', None))
            if dataset is not None and len(dataset) > 0:
                return dataset
        raise RuntimeError(f'{type(self).__name__}: no non-empty dataset in the runner\'s '
                           f'{"/".join(order)} loops to draw samples from')

    def samples(self, runner, phase: str = 'train') -> Dict[str, torch.Tensor]:
        """``{domain: (N, 3, H, W)}`` model-space images (CPU), cached per phase."""
        if phase not in self._samples:
            model = unwrap(runner.model)
            dataset = self._dataset(runner, phase)
            with preserved_rng(), torch.no_grad():
                items = [dataset[i] for i in range(min(self.num_samples, len(dataset)))]
                inputs = model.data_preprocessor(pseudo_collate(items), False)['inputs']
            keys = [f'img_{d}' for d in model.domains]
            if not isinstance(inputs, dict) or not all(k in inputs for k in keys):
                got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
                raise KeyError(f'{type(self).__name__}: dataset items must pack inputs '
                               f'{keys} (PackInputs keys), got {got}')
            self._samples[phase] = {d: inputs[f'img_{d}'].cpu() for d in model.domains}
        return self._samples[phase]

    # -------------------------------------------------------------------- draw
    def draw(self, runner, phase: str, step: int) -> None:
        """Build the panels and hand them to ``runner.visualizer.add_image`` (RGB)."""
        panels = cam_panels(runner.model, self.samples(runner, phase))
        prefix = f'test_{self.name}' if phase == 'test' else self.name
        for direction, bgr in panels.items():
            runner.visualizer.add_image(f'{prefix}_{direction}',
                                        np.ascontiguousarray(bgr[..., ::-1]), step=step)

    # ------------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        # draw the samples now, so that a dataset that cannot serve them fails at
        # the start of training rather than after ``interval`` iterations
        if self.interval > 0 and is_main_process():
            self.samples(runner, 'train')

    def after_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if self.interval > 0 and self.every_n_train_iters(runner, self.interval) \
                and is_main_process():
            self.draw(runner, 'train', runner.iter + 1)

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        if self.on_test and is_main_process():
            # not runner.iter: in a test-only run that property builds the train loop
            # (and its dataset) just to read a counter
            self.draw(runner, 'test', runner.message_hub.get_info('iter') or 0)

"""MMagic's ``TranslationInferencer`` running through the plugin's translator.

``TranslationInferencer`` (mmagic 1.2.0) preprocesses with the config's top-level
``test_pipeline`` variable (not what the model was trained at when a config sets only
the dataloaders' pipelines), translates with the model's ``forward`` and visualizes with
``(preds[:, [2, 1, 0]] + 1) / 2``: it assumes the model works in BGR, as MMagic's CycleGAN
configs do (NICE-GAN configs convert to RGB, what the official weights expect, so there
red and blue come out swapped). This subclass keeps its interface (``img`` in,
``infer_results`` in the model's space out, the same ``default_domain``) and goes through
the one translation path: the image is resized to the model's training size
(:func:`nicegan_plugin.inference.model_image_size`) and translated by the model's
:class:`~nicegan_plugin.inference.TorchTranslator` (the EMA generators when on).
"""
import os.path as osp
from typing import Optional

import numpy as np
import torch
from mmagic.apis.inferencers.translation_inferencer import TranslationInferencer
from mmengine import mkdir_or_exist
from torchvision import utils

from ..inference.translator import TorchTranslator, other_domain
from ..utils.image_io import read_rgb
from ..utils.model_utils import model_domains
from ..utils.pixels import ModelIO, resize_all, to_model_range


class NICEGANTranslationInferencer(TranslationInferencer):
    """``TranslationInferencer`` through the plugin's translator (see the module doc);
    ``visualize`` de-normalizes with the model's own data preprocessor (mean/std and
    channel order) and returns RGB in [0, 1]."""

    def preprocess(self, img) -> np.ndarray:
        """(1, 3, H, W) float32 RGB in [-1, 1] at the training size, from an image path
        or an HxWx3 RGB uint8 array."""
        rgb = read_rgb(img) if isinstance(img, str) else np.asarray(img, dtype=np.uint8)
        translator = self._translator()
        return to_model_range(resize_all([rgb], translator.image_size))

    def forward(self, inputs: np.ndarray) -> torch.Tensor:
        """The translation into ``default_domain``, in the model's space (as MMagic's)."""
        y, _ = self._translator().forward(inputs)
        return ModelIO(self.model).from_unit_rgb(torch.from_numpy(y))

    def _translator(self) -> TorchTranslator:
        domains = model_domains(self.model)
        target = self.model.cfg.model.get('default_domain') or domains[1]
        return TorchTranslator(self.model, f'{other_domain(domains, target)}2{target}',
                               heatmap=False)

    def visualize(self, preds: torch.Tensor,
                  result_out_dir: Optional[str] = None) -> torch.Tensor:
        io = ModelIO(self.model)
        x = preds.detach().float().cpu() * io.std + io.mean
        results = (x.flip(1) if io.model_is_bgr else x) / 255.
        if result_out_dir:
            mkdir_or_exist(osp.dirname(result_out_dir) or '.')
            utils.save_image(results, result_out_dir)
        return results

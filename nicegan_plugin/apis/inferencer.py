"""MMagic's ``TranslationInferencer`` with colours right for RGB models.

``TranslationInferencer.visualize`` (mmagic 1.2.0) computes ``(preds[:, [2, 1, 0]] +
1) / 2``: it assumes the model works in BGR, as MMagic's CycleGAN configs do
(``output_channel_order=None``). NICE-GAN configs convert to RGB (what the official
weights expect), so there the saved image has red and blue swapped. Everything
else (preprocess through ``cfg.test_pipeline``, non-default -> ``default_domain``
forward) works unchanged with NICE-GAN.
"""
import os.path as osp
from typing import Optional

import torch
from mmagic.apis.inferencers.translation_inferencer import TranslationInferencer
from mmengine import mkdir_or_exist
from torchvision import utils

from ..utils.model_io import ModelIO


class NICEGANTranslationInferencer(TranslationInferencer):
    """``TranslationInferencer`` whose ``visualize`` de-normalizes with the model's
    own data preprocessor (mean/std and channel order) and returns RGB in [0, 1]."""

    def visualize(self, preds: torch.Tensor,
                  result_out_dir: Optional[str] = None) -> torch.Tensor:
        io = ModelIO(self.model)
        x = preds.detach().float().cpu() * io.std + io.mean
        results = (x.flip(1) if io.model_is_bgr else x) / 255.
        if result_out_dir:
            mkdir_or_exist(osp.dirname(result_out_dir) or '.')
            utils.save_image(results, result_out_dir)
        return results

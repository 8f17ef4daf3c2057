"""Write every test-time translation to disk under its source file name.

The translations are the test step's own: the model's eval-mode ``translation()`` (the
EMA generator when on, as every other path), quantized like every written image
(:func:`nicegan_plugin.inference.quantize`) and written atomically by the one image writer
(:func:`nicegan_plugin.utils.image_io.save_bgr`): a test killed mid-write leaves no broken
file, and ranks of a distributed test that both write a padded duplicate never mix bytes."""
import os
import os.path as osp
from typing import Optional, Sequence, Set

import torch.nn as nn
from mmagic.registry import HOOKS
from mmengine.hooks import Hook

from ...inference.translator import other_domain
from ...utils.image_io import save_bgr
from ...utils.model_utils import model_domains
from ...utils.pixels import quantize


def relative_source_path(path: str) -> str:
    """``path`` relative to its ``testA``/``testB``/``trainA``/``trainB`` folder (else
    its base name): the name its translation is written under."""
    parts = os.path.normpath(path).split(os.sep)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ('testA', 'testB', 'trainA', 'trainB'):
            return osp.join(*parts[i + 1:])
    return osp.basename(path)


def write_translations(model: nn.Module, samples: Sequence, root: str,
                       written: Set[str]) -> None:
    """Write ``fake_<domain>`` of each test sample (a ``DataSample`` of the model's
    ``test_step``) to ``<root>/fake_<domain>/<source name>``, skipping paths in
    ``written`` (the unpaired test set repeats the smaller domain) and adding new ones."""
    domains = model_domains(model)
    for sample in samples:
        for src_key, src in zip(('img_A_path', 'img_B_path'), domains):
            tgt = other_domain(domains, src)
            path = sample.metainfo.get(src_key)
            fake = sample.get(f'fake_{tgt}')
            if path is None or fake is None:
                continue
            dst = osp.join(root, f'fake_{tgt}', relative_source_path(path))
            if dst in written:
                continue
            img = fake.detach().cpu().numpy().transpose(1, 2, 0)  # BGR 0-255
            save_bgr(dst, quantize(img))
            written.add(dst)


@HOOKS.register_module()
class NICEGANSaveTranslationsHook(Hook):
    """Saves ``fake_<domain>`` of each test sample as ``<out_dir>/fake_<domain>/<name>``.

    ``<name>`` is the source image's path relative to its test folder (the official
    test phase writes ``fakeB/<basename>``). Needs the source paths in the samples'
    metainfo: ``PackInputs(meta_keys=['img_A_path', 'img_B_path'])``, as the configs
    set. The unpaired test set repeats the smaller domain's images; a repeated image
    is written once.

    Args:
        out_dir: folder for the images; relative paths are under the work dir.
    """

    priority = 'LOW'

    def __init__(self, out_dir: str = 'translations') -> None:
        self.out_dir = out_dir
        self._written = set()

    def _root(self, runner) -> str:
        return self.out_dir if osp.isabs(self.out_dir) else osp.join(runner.work_dir,
                                                                        self.out_dir)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        write_translations(runner.model, outputs or [], self._root(runner), self._written)

    def after_test_epoch(self, runner, metrics=None) -> None:
        if self._written:
            runner.logger.info(f'{len(self._written)} translated test images written to '
                               f'{self._root(runner)}')
        self._written = set()

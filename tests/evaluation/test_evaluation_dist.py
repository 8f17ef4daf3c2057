"""Multi-node evaluation: real features are read or computed on rank 0 and broadcast, so
ranks that do not share a file system (here: a separate feature-cache folder per rank,
one of them holding a stale file) still use the same features. Two CPU processes, gloo."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np

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

"""``tools/train.py --tensorboard``: MMEngine's TensorboardVisBackend beside the local one,
read back from the event file: the logged scalars and the CAM panels as images."""
import glob
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest


def test_train_tensorboard_writes_scalars_and_cam_panels(tmp_path, project_root,
                                                         tiny_config_file, make_image_set,
                                                         data_root_args):
    from tensorboard.backend.event_processing.event_accumulator import (
        IMAGES,
        SCALARS,
        EventAccumulator,
    )
    data = make_image_set(str(tmp_path / 'data'), n_a=2, n_b=2, size=64)
    config = tiny_config_file('tiny_h2z_cam')  # the tiny config with the CAM panel hook
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', str(work), '--tensorboard',
         '--cfg-options', *data_root_args(data)],
        cwd=project_root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    vis = glob.glob(str(work / '*' / 'vis_data'))
    assert len(vis) == 1, vis
    events = glob.glob(osp.join(vis[0], 'events.out.tfevents.*'))
    assert len(events) == 1, f'no TensorBoard event file in {vis[0]}'
    acc = EventAccumulator(events[0], size_guidance={SCALARS: 0, IMAGES: 0})
    acc.Reload()
    tags = acc.Tags()

    # the same scalars as scalars.json (TensorBoard keeps float32)
    rows = [json.loads(line) for line in open(osp.join(vis[0], 'scalars.json'))]
    train = [r for r in rows if 'loss_d' in r]
    for key in ('loss_d_horse', 'loss_gan_g_zebra_cam', 'loss_cycle_horse', 'generators.lr'):
        assert key in tags['scalars'], key
        logged = acc.Scalars(key)
        assert [e.step for e in logged] == [r['step'] for r in train] == [1, 2]
        assert [e.value for e in logged] == pytest.approx([r[key] for r in train], rel=1e-6)

    # the CAM panels, pixel for pixel the PNGs of the local backend
    assert sorted(tags['images']) == ['cam_horse2zebra', 'cam_zebra2horse']
    for tag in tags['images']:
        (image,) = acc.Images(tag)
        assert image.step == 2
        tb = cv2.imdecode(np.frombuffer(image.encoded_image_string, np.uint8), cv2.IMREAD_COLOR)
        local = cv2.imread(osp.join(vis[0], 'vis_image', f'{tag}_2.png'), cv2.IMREAD_COLOR)
        assert tb is not None and local is not None
        assert tb.shape == local.shape == (image.height, image.width, 3)
        assert (image.height, image.width) == (5 * 64, 2 * 64)  # 5 rows, 2 samples
        np.testing.assert_array_equal(tb, local)

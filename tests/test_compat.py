"""The plugin's compatibility fixes for the tested stack."""
import os

import numpy as np
import pytest
import torch


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    """A checkpoint with mmengine's message hub and numpy values loads safely."""
    import numpy as np
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('compat-test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/lr', np.float64(1e-4))
    hub.update_info('iter', 3)
    ckpt = {'meta': {'iter': 3, 'seed': np.int64(5), 'arr': np.arange(3.)},
            'message_hub': hub.state_dict(), 'state_dict': {'w': torch.ones(2)}}
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path)  # torch's default: weights_only=True
    assert loaded['meta']['iter'] == 3
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


class NotAllowed:
    pass


class GetattrEscape:
    """Pickles as getattr(numpy.ndarray, 'tofile'): an allowed class, a refused attribute."""

    def __reduce__(self):
        import numpy as np
        return getattr, (np.ndarray, 'tofile')


def test_unlisted_globals_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'x': NotAllowed()}, path)
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        torch.load(path)
    torch.save({'x': GetattrEscape()}, path)
    with pytest.raises(Exception, match='refused getattr'):
        torch.load(path)


def test_real_runner_checkpoint_loads(tmp_path):
    """A checkpoint written by MMEngine's CheckpointHook (see test_train_tools) loads."""
    from mmengine.logging import MessageHub
    from mmengine.runner.checkpoint import save_checkpoint
    hub = MessageHub.get_instance('compat-real')
    hub.update_scalar('train/loss', 1.0)
    save_checkpoint({'message_hub': hub.state_dict(), 'meta': {}}, str(tmp_path / 'c.pth'))
    loaded = torch.load(tmp_path / 'c.pth')
    hub2 = MessageHub.get_instance('compat-real-2')
    hub2.load_state_dict(loaded['message_hub'])
    assert hub2.get_scalar('train/loss').current() == 1.0


def test_translation_inferencer_colours_unchanged_for_bgr_models():
    """The colour fix gives MMagic's original result for BGR models (its CycleGAN)."""
    from types import SimpleNamespace

    from mmagic.models import DataPreprocessor

    from nicegan_plugin.apis import NICEGANTranslationInferencer
    model = torch.nn.Module()
    model.data_preprocessor = DataPreprocessor()  # CycleGAN's: BGR, mean = std = 127.5
    model.weight = torch.nn.Parameter(torch.zeros(1))
    preds = torch.rand(1, 3, 4, 4) * 2 - 1
    out = NICEGANTranslationInferencer.visualize(SimpleNamespace(model=model), preds)
    torch.testing.assert_close(out, (preds[:, [2, 1, 0]] + 1.) / 2.)


def test_import_changes_no_other_library_behaviour(tmp_path, monkeypatch):
    """Importing the plugin leaves MMEngine's storage backend and MMagic's inferencer
    alone: a user's ``mmcv.imwrite`` writes in place, with no fsync per file."""
    import mmcv
    from mmagic.apis.inferencers.translation_inferencer import TranslationInferencer
    from mmengine.fileio.backends.local_backend import LocalBackend

    import nicegan_plugin  # noqa: F401
    assert LocalBackend.put.__module__ == 'mmengine.fileio.backends.local_backend'
    assert TranslationInferencer.visualize.__module__.startswith('mmagic.')
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, 'fsync', lambda fd: (calls.append(fd), real_fsync(fd)))
    for i in range(3):
        assert mmcv.imwrite(np.zeros((4, 4, 3), np.uint8), str(tmp_path / f'{i}.png'))
    assert calls == []

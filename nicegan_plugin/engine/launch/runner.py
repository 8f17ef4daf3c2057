"""``NICEGANRunner``: MMEngine's ``Runner`` that first works out a config's derived keys.

The runtime base names it as ``runner_type`` (by its import path, which MMEngine's registry
resolves by importing it, so no ``custom_imports`` is needed for it): a script that follows
MMEngine's convention (``RUNNERS.build(cfg)`` when a config has a ``runner_type``) and Python
code (``NICEGANRunner.from_cfg(cfg)``) build the dataset, metrics, hooks and model from the same
keys as this package's tools. The config it keeps (and writes to the work dir) holds the
derived keys, so a script that builds a plain ``Runner`` (MMagic 1.2's ``tools/train.py``)
runs that one as it is.
"""
import copy

from mmagic.registry import RUNNERS
from mmengine.runner import Runner

from ..config.derived_keys import derive_keys


@RUNNERS.register_module()
class NICEGANRunner(Runner):
    """``Runner.from_cfg`` on the config with :func:`..config.derived_keys.derive_keys` applied."""

    @classmethod
    def from_cfg(cls, cfg) -> Runner:
        return super().from_cfg(derive_keys(copy.deepcopy(cfg)))

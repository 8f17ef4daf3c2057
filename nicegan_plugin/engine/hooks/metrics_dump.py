"""Keep (and optionally write) the metrics of the last test epoch."""
import json
from typing import Dict, Optional

from mmagic.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ...utils.fileio import atomic_write


@HOOKS.register_module()
class NICEGANDumpMetricsHook(Hook):
    """Records the metrics MMEngine hands to ``after_test_epoch`` in :attr:`metrics`
    and, given ``out_file``, writes them as JSON on rank 0 (atomically).

    Needed because MMagic's ``MultiTestLoop.run`` returns None, so ``runner.test()``
    gives the caller no metrics (MMEngine's own ``TestLoop`` returns them).

    Args:
        out_file: JSON file for the metrics; None keeps them in memory only.
    """

    priority = 'LOWEST'

    def __init__(self, out_file: Optional[str] = None) -> None:
        self.out_file = out_file
        self.metrics: Dict[str, object] = {}

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, object]] = None) -> None:
        self.metrics = {k: float(v) if hasattr(v, '__float__') else v
                        for k, v in (metrics or {}).items()}
        if self.out_file and is_main_process():
            atomic_write(self.out_file, json.dumps(self.metrics, indent=2))
            runner.logger.info(f'metrics written to {self.out_file}')

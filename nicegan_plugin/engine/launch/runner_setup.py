"""Runner set-up shared by tools/train.py and tools/test.py.

Config loading, AMP, the distributed backend, the runner (its console without the config
dump), the checkpoint check and the training size it recorded.
"""
import logging
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.runner import Runner

from ...inference.translator import config_image_size
from ...utils.cli import debug_mode
from ...utils.model_utils import unwrap
from ..checkpointing.image_size import IMG_SIZE_KEY
from ..checkpointing.reading import check_state_dict, read_weights_and_meta
from ..config.check import check_cfg_options
from ..config.derived_keys import derive_keys
from .launcher_watch import watch_launcher


def load_config(path: str, launcher: str, cfg_options: Optional[dict],
                work_dir: Optional[str]) -> Config:
    """``Config.fromfile`` + ``--cfg-options`` + the work dir (CLI > config >
    ``./work_dirs/<config name>``), as MMagic's tools do; option keys of unknown top-level
    keys are refused (:func:`..config.check.check_cfg_options`); then the keys the data
    set's values decide are worked out (:func:`..config.derived_keys.derive_keys`)."""
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    check_cfg_options(cfg, cfg_options)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    derive_keys(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def fill_schedule_length(cfg: Config) -> None:
    """``NICEGANLinearDecayLR(total_iters=None)`` follows ``train_cfg.max_iters``; write it
    in after ``--cfg-options`` so the scheduler knows it from construction on (also
    while resuming, before the runner publishes ``max_iters``)."""
    scheds = cfg.get('param_scheduler')
    scheds = scheds if isinstance(scheds, list) else [scheds] if scheds else []
    for sched in scheds:
        if sched.get('type') == 'NICEGANLinearDecayLR' and sched.get('total_iters') is None \
                and cfg.get('train_cfg', {}).get('max_iters'):
            sched['total_iters'] = cfg.train_cfg.max_iters


def enable_amp(cfg: Config) -> None:
    """Switch every optimizer wrapper of ``cfg.optim_wrapper`` to ``AmpOptimWrapper``.

    MMagic's own ``tools/train.py`` only switches sub-dicts that already have a
    ``type`` key, so for multi-optimizer configs (``generators``/``discriminators``,
    no ``type``) ``--amp`` is silently ignored. Here every sub-dict that holds an
    ``optimizer`` is switched.
    """
    ow = cfg.optim_wrapper
    targets = [v for v in ow.values() if isinstance(v, dict) and 'optimizer' in v] \
        if 'constructor' in ow or 'optimizer' not in ow else [ow]
    if not targets:
        raise ValueError('--amp: no optimizer wrapper found in cfg.optim_wrapper')
    for sub in targets:
        if sub.get('type', 'OptimWrapper') not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp: cannot switch optimizer wrapper type {sub["type"]!r}')
        sub['type'] = 'AmpOptimWrapper'
        sub.setdefault('loss_scale', 'dynamic')


def enable_cuda_graph(cfg: Config) -> None:
    """``--cuda-graph``: ``model.cuda_graph.enabled=True`` (other keys kept or defaulted).

    Refuses AMP optimizer wrappers: a GradScaler's inf checks run on the host and
    cannot be captured (``model.cuda_graph.bf16=True`` needs no loss scaling).
    """
    ow = cfg.get('optim_wrapper', {})
    subs = [v for v in ow.values() if isinstance(v, dict)] + [ow]
    if any(sub.get('type') == 'AmpOptimWrapper' for sub in subs):
        raise ValueError('--cuda-graph cannot capture AmpOptimWrapper (GradScaler); drop --amp '
                         'and use --cfg-options model.cuda_graph.bf16=True for bf16 autocast')
    graph = cfg.model.get('cuda_graph') or {}
    cfg.model.cuda_graph = dict(graph, enabled=True)


def setup_distributed(cfg: Config, launcher: str) -> Optional[str]:
    """Pick the process-group backend (nccl with GPUs, gloo without) and start it.

    MMEngine 0.10.7's ``init_dist`` always calls ``torch.cuda.set_device``, which
    fails on machines without a GPU; for the ``pytorch`` launcher on CPU we start the
    (gloo) group ourselves, and MMEngine's Runner then uses it as is. A launched worker
    also ends when its launcher dies (:func:`.launcher_watch.watch_launcher`). Returns the
    backend, or None when not distributed.
    """
    if launcher == 'none':
        return None
    watch_launcher()
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    backend = dist_cfg.get('backend') or ('nccl' if torch.cuda.is_available() else 'gloo')
    dist_cfg['backend'] = backend
    if launcher == 'pytorch' and not torch.cuda.is_available() \
            and not torch_dist.is_initialized():
        torch_dist.init_process_group(backend=backend)
    return backend


def end_distributed() -> None:
    """End a finished run's process group on every rank (a barrier, then
    ``destroy_process_group``), as PyTorch asks of each process before it exits: the
    backend's threads then stop before the interpreter does (a gloo worker left to exit
    with its group alive was once seen to abort there, "terminate called without an
    active exception", after its last checkpoint)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


class _NoConfigDump(logging.Filter):
    """Drops MMEngine's ``Config:`` record (the whole config, hundreds of lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith('Config:\n'))


class ToolRunner(Runner):
    """MMEngine's ``Runner`` whose console leaves out the config dump.

    ``Runner.__init__`` logs the whole config (~560 lines for the paper configs) to the
    console and the log file; a run that then fails shows its one-line error under it.
    Here the dump goes to the log file (``<work_dir>/<timestamp>/<timestamp>.log``, next to
    the config MMEngine writes to the work dir) and, with ``--debug``, to the console too.
    """

    def build_logger(self, *args, **kwargs):
        logger = super().build_logger(*args, **kwargs)
        if not debug_mode():
            for handler in logger.handlers:
                if type(handler) is logging.StreamHandler:  # the console, not a FileHandler
                    handler.addFilter(_NoConfigDump())
        return logger


def build_runner(cfg: Config) -> Runner:
    """``Runner.from_cfg(cfg)`` as the tools build it (:class:`ToolRunner`)."""
    return ToolRunner.from_cfg(cfg)


def validate_checkpoint(runner, path: Optional[str]) -> dict:
    """Fail with a clear message if ``path`` does not fit the runner's model; returns the
    checkpoint's ``meta`` (empty without ``path``).

    MMEngine loads ``load_from`` and ``resume`` checkpoints non-strictly: a checkpoint of
    other domains or another architecture only logs "missing keys" warnings and the run
    goes on with random weights. The tools check the keys and shapes first.
    """
    if not path:
        return {}
    state, meta = read_weights_and_meta(path)
    check_state_dict(unwrap(runner.model), state, path)
    return meta


def trained_size_note(cfg: Config, meta: dict, checkpoint: str) -> Optional[str]:
    """A log line when the training image size ``checkpoint`` recorded differs from the
    size the config's test data is resized to (``tools/test.py`` uses the config's, which
    the user chose explicitly); None when they agree or either is unknown."""
    recorded = meta.get(IMG_SIZE_KEY)
    size, where = config_image_size(cfg)
    if not recorded or not size or tuple(int(s) for s in recorded) == tuple(size):
        return None
    return (f'the model was trained at {recorded[0]}x{recorded[1]} ({checkpoint}); testing '
            f'at {size[0]}x{size[1]} as {where} says')


def set_local_rank(local_rank: int) -> None:
    """``torch.distributed.launch`` passes --local-rank; torchrun sets LOCAL_RANK."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(local_rank)

"""Config checks before the runner is built: typos fail at start-up, not hours later.

MMEngine ignores top-level keys it does not know (``--cfg-options modle.generator...`` is
silently dropped) and passes unknown ``CheckpointHook`` arguments on to
``Runner.save_checkpoint``, so ``default_hooks.checkpoint.intervall=1`` trains until the
first save and dies there. Here:

- :func:`check_cfg_options`: ``--cfg-options`` keys whose top level is neither in the
  config nor a key the runner reads;
- :func:`check_config`: top-level keys of the config that look like a misspelt runner key,
  ``env_cfg`` keys (MMEngine reads a few and ignores the rest: ``env_cfg.cudnn_benchmrk``
  would silently run without it), hook types and hook arguments (against the hook's
  signature), ``max_iters``, batch size and intervals by name.

Each problem names the key and the nearest valid one; all are reported at once.
"""
import difflib
import inspect
from typing import Dict, Iterable, List, Optional, Set

#: top-level keys MMEngine's Runner (and MMagic's tools/apis) read
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'model_wrapper_cfg',
    'find_unused_parameters', 'activation_checkpointing', 'efficient_conv_bn_eval', 'compile',
    'custom_imports', 'test_pipeline', 'vis_backends', 'dist_params', 'cfg'})


#: keys ``Runner.setup_env`` reads from ``env_cfg`` (MMEngine 0.10), and of its ``mp_cfg``
ENV_CFG_KEYS = frozenset({'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'})
MP_CFG_KEYS = frozenset({'mp_start_method', 'opencv_num_threads'})


#: default hooks MMEngine's Runner lets a config switch off with None
MMENGINE_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger', 'param_scheduler',
                          'checkpoint')


class ConfigCheckError(ValueError):
    """The config has keys or values that cannot be what the user meant."""


def _nearest(key: str, valid: Iterable[str], cutoff: float = 0.6) -> str:
    match = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=cutoff)
    return f" (did you mean '{match[0]}'?)" if match else ''


def check_cfg_options(cfg, options: Optional[Dict]) -> None:
    """Raise :class:`ConfigCheckError` for ``--cfg-options`` keys whose top level is
    neither in ``cfg`` (the config before merging) nor a runner key."""
    known = set(cfg.keys()) | RUNNER_KEYS
    problems = []
    for key in options or {}:
        top = key.split('.')[0]
        if top not in known:
            problems.append(f"--cfg-options {key}: unknown top-level key '{top}'"
                            f'{_nearest(top, known)}')
    if problems:
        raise ConfigCheckError('; '.join(problems))


def _hook_class(hook_type):
    from mmagic.registry import HOOKS
    if inspect.isclass(hook_type):
        return hook_type
    return HOOKS.get(hook_type)


def _hook_names() -> Set[str]:
    from mmagic.registry import HOOKS
    names: Set[str] = set()
    registry = HOOKS
    while registry is not None:
        names |= set(registry.module_dict)
        registry = registry.parent
    return names


#: ``Runner.save_checkpoint`` arguments that ``CheckpointHook`` sets itself
_SAVE_ARGS = {'self', 'out_dir', 'filename', 'file_client_args', 'save_optimizer',
              'save_param_scheduler', 'meta', 'by_epoch', 'backend_args'}


def hook_arguments(cls) -> Optional[Set[str]]:
    """Keyword arguments ``cls(...)`` accepts; None if any keyword is accepted.

    An ``__init__(*args, **kwargs)`` that forwards to its parent is followed up the MRO;
    ``CheckpointHook`` passes its extra keywords to ``Runner.save_checkpoint``.
    """
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import Runner
    names: Set[str] = set()
    for klass in cls.__mro__:
        if '__init__' not in vars(klass):
            continue
        params = inspect.signature(vars(klass)['__init__']).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
        if klass is CheckpointHook:  # minus what the hook passes itself
            extra = set(inspect.signature(Runner.save_checkpoint).parameters) - _SAVE_ARGS
            return (names | extra) - {'self'}
    else:
        return None
    return names - {'self'}


def dist_cfg_keys() -> Set[str]:
    """Keys of ``env_cfg.dist_cfg``: MMEngine's ``init_dist`` arguments (``backend``,
    ``init_backend``, slurm's ``port``) and what it passes on to
    ``torch.distributed.init_process_group``."""
    import torch.distributed as torch_dist
    own = set(inspect.signature(torch_dist.init_process_group).parameters)
    return {k for k in own if not k.startswith('_')} | {'backend', 'init_backend', 'port'}


def _check_env_cfg(env_cfg) -> List[str]:
    if not isinstance(env_cfg, dict):
        return [f'env_cfg must be a dict (got {env_cfg!r})']
    problems = []
    for where, section, valid in (('env_cfg', env_cfg, ENV_CFG_KEYS),
                                  ('env_cfg.mp_cfg', env_cfg.get('mp_cfg'), MP_CFG_KEYS),
                                  ('env_cfg.dist_cfg', env_cfg.get('dist_cfg'), None)):
        if not isinstance(section, dict):
            if section is not None:
                problems.append(f'{where} must be a dict (got {section!r})')
            continue
        valid = valid if valid is not None else dist_cfg_keys()
        for key in section:
            if key not in valid:
                near = _nearest(str(key), valid) or f' (it reads {", ".join(sorted(valid))})'
                problems.append(f"{where}.{key}: not read by MMEngine's Runner{near}")
    return problems


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_hook(where: str, hook: Dict, hook_names: Set[str]) -> List[str]:
    if not isinstance(hook, dict) or 'type' not in hook:
        return [f'{where}: a hook config needs a `type` (got {hook!r})']
    cls = _hook_class(hook['type'])
    if cls is None:
        return [f"{where}.type: '{hook['type']}' is not a registered hook"
                f"{_nearest(str(hook['type']), hook_names)}"]
    problems = []
    valid = hook_arguments(cls)
    if valid is not None:
        for arg in hook:
            if arg != 'type' and arg not in valid:
                problems.append(f"{where}.{arg}: {cls.__name__} has no argument '{arg}'"
                                f'{_nearest(arg, valid)}')
    if 'interval' in hook and not _is_int(hook['interval']):
        problems.append(f'{where}.interval must be an integer (got {hook["interval"]!r})')
    elif cls.__name__ == 'LoggerHook' and hook.get('interval', 1) < 1:
        problems.append(f'{where}.interval must be >= 1 (got {hook["interval"]})')
    return problems


def check_config(cfg, training: bool = True) -> None:
    """Raise :class:`ConfigCheckError` naming every suspicious key of ``cfg`` (see the
    module doc); ``training=False`` skips the training schedule."""
    problems = []
    for key in cfg.keys():
        if key not in RUNNER_KEYS:
            near = difflib.get_close_matches(key, sorted(RUNNER_KEYS), n=1, cutoff=0.85)
            if near:
                problems.append(f"top-level key '{key}' is not read by the runner "
                                f"(did you mean '{near[0]}'?)")
    if cfg.get('env_cfg') is not None:
        problems += _check_env_cfg(cfg.env_cfg)
    hook_names = _hook_names()
    for name, hook in (cfg.get('default_hooks') or {}).items():
        if hook is not None:
            problems += _check_hook(f'default_hooks.{name}', hook, hook_names)
        elif name not in MMENGINE_DEFAULT_HOOKS:
            problems.append(f'default_hooks.{name}=None: only MMEngine\'s own default hooks '
                            f'({", ".join(MMENGINE_DEFAULT_HOOKS)}) can be switched off with '
                            'None; delete the key in the config instead')
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        problems += _check_hook(f'custom_hooks[{i}]', hook, hook_names)
    train_cfg = cfg.get('train_cfg') or {}
    if training and train_cfg:
        by_epoch = train_cfg.get('by_epoch', train_cfg.get('type') == 'EpochBasedTrainLoop')
        length = 'max_epochs' if by_epoch else 'max_iters'
        value = train_cfg.get(length)
        if not _is_int(value) or value < 1:
            problems.append(f'train_cfg.{length} must be a positive integer (got {value!r})')
        interval = train_cfg.get('val_interval', 1)
        if not _is_int(interval) or interval < 1:
            problems.append(f'train_cfg.val_interval must be a positive integer (got '
                            f'{interval!r})')
        batch = (cfg.get('train_dataloader') or {}).get('batch_size', 1)
        if not _is_int(batch) or batch < 1:
            problems.append(f'train_dataloader.batch_size must be a positive integer (got '
                            f'{batch!r})')
    if problems:
        raise ConfigCheckError('; '.join(problems))

"""Conversion between official NICE-GAN checkpoints and plugin checkpoints.

Official file (``<dataset>_params_latest.pt``): ``{'gen2B', 'gen2A', 'disA', 'disB'}``
state dicts (old hook-based spectral norm: ``X.weight_orig/_u/_v``; possibly stray thop
``total_ops``/``total_params`` buffers), ``'D_optimizer'``/``'G_optimizer'`` (Adam over
``chain(disA, disB)`` / ``chain(gen2B, gen2A)`` parameters) and ``'start_iter'``.

Plugin file (MMEngine): ``{'meta', 'state_dict', 'optimizer', 'message_hub'}`` with keys
``generators.<domain>.*`` / ``discriminators.<domain>.*``. ``gen2B`` is the generator of
domain B; ``disA`` the discriminator (and encoder) of domain A.
"""
import math
import pprint
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

from .constants import OFFICIAL_NETS, THOP_SUFFIXES

# first key component: official -> plugin
_DIS_NAMES = {'lamda': 'gamma', 'model': 'encoder', 'fc': 'cam_fc', 'conv1x1': 'cam_conv',
              'Dis0_0': 'trunk', 'Dis0_1': 'local_body', 'conv0': 'local_head',
              'Dis1_0': 'global_down', 'Dis1_1': 'global_body', 'conv1': 'global_head'}
_GEN_NAMES = {'gamma': 'fc_gamma', 'beta': 'fc_beta', 'FC': 'mlp', 'UpBlock0': 'stem',
              'UpBlock2': 'upsample'}
# old-style spectral norm suffix -> parametrization
_SN = {'weight_orig': 'parametrizations.weight.original',
       'weight_u': 'parametrizations.weight.0._u',
       'weight_v': 'parametrizations.weight.0._v'}


class ConversionError(ValueError):
    """The input is not a checkpoint this converter can explain."""


# --------------------------------------------------------------------- key maps
def _map_first(key: str, table: Dict[str, str]) -> Optional[str]:
    head, _, rest = key.partition('.')
    if head in table:
        return table[head] + ('.' + rest if rest else '')
    m = re.fullmatch(r'UpBlock1_(\d+)', head)
    if table is _GEN_NAMES and m:
        return f'res_blocks.{int(m.group(1)) - 1}' + ('.' + rest if rest else '')
    return None


def official_to_plugin_key(key: str, net: str) -> Optional[str]:
    """Plugin key (inside one network) for an official key, or None if unknown."""
    table = _DIS_NAMES if net.startswith('dis') else _GEN_NAMES
    mapped = _map_first(key, table)
    if mapped is None:
        return None
    prefix, _, last = mapped.rpartition('.')
    if last in _SN:
        return f'{prefix}.{_SN[last]}' if prefix else _SN[last]
    return mapped


def plugin_to_official_key(key: str, net: str) -> str:
    """Inverse of :func:`official_to_plugin_key`."""
    for old, new in _SN.items():
        if key.endswith('.' + new):
            key = key[:-len(new)] + old
            break
    head, _, rest = key.partition('.')
    if net.startswith('dis'):
        inv = {v: k for k, v in _DIS_NAMES.items()}
        return inv[head] + ('.' + rest if rest else '')
    if head == 'res_blocks':
        idx, _, rest = rest.partition('.')
        return f'UpBlock1_{int(idx) + 1}.{rest}'
    inv = {v: k for k, v in _GEN_NAMES.items()}
    return inv[head] + ('.' + rest if rest else '')


def _is_thop(key: str) -> bool:
    return key.rsplit('.', 1)[-1] in THOP_SUFFIXES


# ----------------------------------------------------------- config inference
def infer_config(ckpt: dict, img_size: Optional[int] = None) -> dict:
    """Architecture hyper-parameters from tensor shapes of an official checkpoint.

    Returns ``dict(light, ch, n_res, n_dis, img_size, in_channels, out_channels)``.
    ``img_size`` is only determined by the full (non-light) generator; for light
    models it defaults to 256 (the architecture does not depend on it).
    """
    try:
        dis, gen = ckpt['disA'], ckpt['gen2B']
        first = dis['model.1.weight_orig']
        ch, in_channels = int(first.shape[0]), int(first.shape[1])
        trunk_convs = {k.split('.')[1] for k in dis if k.startswith('Dis0_0.')
                       and not _is_thop(k)}
        n_dis = 6 + len(trunk_convs)
        n_res = len({k.split('.')[0] for k in gen if k.startswith('UpBlock1_')})
        fc0 = gen['FC.0.weight']
        out_channels = int(gen['UpBlock2.17.weight'].shape[0])
    except KeyError as e:
        raise ConversionError(
            f'missing key {e} needed to infer the architecture; is this an official '
            'NICE-GAN checkpoint?') from None
    if fc0.shape[1] == 4 * ch:
        light, size = True, img_size or 256
    else:
        side = math.isqrt(fc0.shape[1] // (4 * ch))
        if fc0.shape[1] != side * side * 4 * ch:
            raise ConversionError(
                f'gen2B FC.0.weight has shape {tuple(fc0.shape)}, which neither the light '
                f'(in={4 * ch}) nor the full generator ((img/4)^2 * {4 * ch}) explains')
        light, size = False, 4 * side
        if img_size and img_size != size:
            raise ConversionError(f'--img-size {img_size} contradicts the full generator, '
                                  f'which was trained at {size} px')
    return dict(light=light, ch=ch, n_res=n_res, n_dis=n_dis, img_size=size,
                in_channels=in_channels, out_channels=out_channels)


def model_config(arch: dict, domain_a: str, domain_b: str) -> dict:
    """A plugin ``model`` config dict for the inferred architecture."""
    return dict(
        type='NICEGAN',
        data_preprocessor=dict(
            type='DataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
            output_channel_order='RGB', data_keys=[f'img_{domain_a}', f'img_{domain_b}']),
        generator=dict(type='NICEGANGenerator', out_channels=arch['out_channels'],
                       base_channels=arch['ch'], num_blocks=arch['n_res'],
                       img_size=arch['img_size'], light=arch['light']),
        discriminator=dict(type='NICEGANDiscriminator', in_channels=arch['in_channels'],
                           base_channels=arch['ch'], num_layers=arch['n_dis']),
        default_domain=domain_b,
        reachable_domains=[domain_a, domain_b],
        related_domains=[domain_a, domain_b])


def _build_networks(arch: dict) -> Tuple[torch.nn.Module, torch.nn.Module]:
    """One generator and one discriminator on the meta device (no memory)."""
    from ..models import NICEGANDiscriminator, NICEGANGenerator
    with torch.device('meta'):
        gen = NICEGANGenerator(arch['out_channels'], arch['ch'], arch['n_res'],
                            arch['img_size'], arch['light'])
        dis = NICEGANDiscriminator(arch['in_channels'], arch['ch'], arch['n_dis'])
    return gen, dis


# --------------------------------------------------------------- conversion
def _net_domains(domain_a: str, domain_b: str) -> Dict[str, Tuple[str, str]]:
    """Official network name -> (plugin module group, plugin domain)."""
    return {'gen2B': ('generators', domain_b), 'gen2A': ('generators', domain_a),
            'disA': ('discriminators', domain_a), 'disB': ('discriminators', domain_b)}


def _plugin_param_order(group: str, domain_a: str, domain_b: str,
                        refs: Dict[str, torch.nn.Module]) -> List[Tuple[str, str]]:
    """(official net, plugin key) of each parameter in the plugin optimizer's order:
    ``MultiOptimWrapperConstructor`` chains ``<group>.<domain_a>`` then ``<domain_b>``."""
    net_of = {gd: n for n, gd in _net_domains(domain_a, domain_b).items()}
    order = []
    for dom in (domain_a, domain_b):
        net = net_of[(group, dom)]
        order += [(net, k) for k, _ in refs[net].named_parameters()]
    return order


def _param_names(sd: Dict[str, torch.Tensor], net: str, reference: torch.nn.Module) -> List[str]:
    """Official parameter keys of ``net`` in ``parameters()`` order (= state-dict order)."""
    param_keys = {plugin_to_official_key(k, net) for k, _ in reference.named_parameters()}
    return [k for k in sd if k in param_keys]


def _check_keys(sd: Dict[str, torch.Tensor], net: str, reference: torch.nn.Module) -> None:
    expected = {plugin_to_official_key(k, net): v.shape
                for k, v in reference.state_dict().items()}
    got = {k: v.shape for k, v in sd.items() if not _is_thop(k)}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing or extra:
        raise ConversionError(
            f'{net}: the keys do not match a NICE-GAN network of the inferred '
            f'architecture. missing: {missing[:8]}{" ..." if len(missing) > 8 else ""}; '
            f'unexpected: {extra[:8]}{" ..." if len(extra) > 8 else ""}')
    bad = [(k, tuple(got[k]), tuple(s)) for k, s in expected.items() if got[k] != s]
    if bad:
        raise ConversionError(f'{net}: tensor shapes that no configuration explains: '
                              + ', '.join(f'{k} {g} (expected {e})' for k, g, e in bad[:8]))


def _convert_optimizer(opt_sd: dict, nets: Tuple[str, str], ckpt: dict,
                       refs: Dict[str, torch.nn.Module], order: List[Tuple[str, str]]) -> dict:
    """Re-index an official Adam state dict to the plugin's parameter order.

    ``nets`` is the official chain order; ``order`` lists (net, plugin_key) in the
    plugin optimizer's parameter order.
    """
    official_index = {}
    i = 0
    for net in nets:
        for k in _param_names(ckpt[net], net, refs[net]):
            official_index[(net, official_to_plugin_key(k, net))] = i
            i += 1
    if len(opt_sd['param_groups']) != 1 or len(opt_sd['param_groups'][0]['params']) != i:
        raise ConversionError(
            f'optimizer for {nets} has {sum(len(g["params"]) for g in opt_sd["param_groups"])} '
            f'parameters in {len(opt_sd["param_groups"])} groups; expected one group of {i}')
    state = {}
    for new_idx, key in enumerate(order):
        old_idx = official_index[key]
        if old_idx in opt_sd['state']:
            state[new_idx] = opt_sd['state'][old_idx]
    group = dict(opt_sd['param_groups'][0])
    group['params'] = list(range(len(order)))
    return {'state': state, 'param_groups': [group]}


def official_to_plugin(ckpt: dict, domain_a: str = 'A', domain_b: str = 'B',
                       img_size: Optional[int] = None) -> Tuple[dict, dict]:
    """Convert an official checkpoint dict. Returns (plugin checkpoint, model config)."""
    if not isinstance(ckpt, dict) or not all(n in ckpt for n in OFFICIAL_NETS):
        keys = list(ckpt)[:10] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ConversionError(
            f'not an official NICE-GAN checkpoint: expected keys {list(OFFICIAL_NETS)}, '
            f'found {keys}')
    if domain_a == domain_b:
        raise ConversionError('--domain-a and --domain-b must differ')
    arch = infer_config(ckpt, img_size)
    gen_ref, dis_ref = _build_networks(arch)
    refs = {n: dis_ref if n.startswith('dis') else gen_ref for n in OFFICIAL_NETS}
    for net in OFFICIAL_NETS:
        _check_keys(ckpt[net], net, refs[net])
    net_of = {gd: n for n, gd in _net_domains(domain_a, domain_b).items()}
    state_dict = OrderedDict()
    for group, dom in (('generators', domain_a), ('generators', domain_b),
                       ('discriminators', domain_a), ('discriminators', domain_b)):
        net = net_of[(group, dom)]
        ref_keys = refs[net].state_dict().keys()
        src = {official_to_plugin_key(k, net): v for k, v in ckpt[net].items()
               if not _is_thop(k)}
        for k in ref_keys:
            state_dict[f'{group}.{dom}.{k}'] = src[k].clone()
    out = {'meta': {'epoch': 0, 'iter': int(ckpt.get('start_iter', 0)),
                    'converted_from': 'official NICE-GAN checkpoint',
                    'nicegan_arch': arch, 'domains': [domain_a, domain_b]},
           'state_dict': state_dict}
    if 'G_optimizer' in ckpt and 'D_optimizer' in ckpt:
        optim = {}
        for group, nets in (('generators', ('gen2B', 'gen2A')),
                            ('discriminators', ('disA', 'disB'))):
            src_key = 'G_optimizer' if group == 'generators' else 'D_optimizer'
            optim[group] = _convert_optimizer(
                ckpt[src_key], nets, ckpt, refs,
                _plugin_param_order(group, domain_a, domain_b, refs))
        out['optimizer'] = optim
        out['message_hub'] = {'log_scalars': {}, 'runtime_info': {}, 'resumed_keys': {}}
        # step counters for the lr scheduler of each optimizer (NICEGANLinearDecayLR
        # takes its schedule and base lr from the training config and sets the lr of
        # the next iteration on load), so that --resume continues the official decay
        done = int(ckpt.get('start_iter', 0))
        out['param_schedulers'] = {g: [{'last_step': done, '_global_step': done}]
                                   for g in ('generators', 'discriminators')}
    return out, model_config(arch, domain_a, domain_b)


def plugin_to_official(ckpt: dict, domain_a: Optional[str] = None,
                       domain_b: Optional[str] = None) -> dict:
    """Convert a plugin checkpoint (or bare state dict) to the official format."""
    sd = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict) or not any(k.startswith('generators.') for k in sd):
        raise ConversionError('not a NICE-GAN plugin checkpoint: no "generators.*" keys '
                              'in its state_dict')
    found = list(OrderedDict.fromkeys(k.split('.')[1] for k in sd
                                      if k.startswith('generators.')))
    if len(found) != 2:
        raise ConversionError(f'expected two domains in the checkpoint, found {found}')
    domain_a = domain_a or found[0]
    domain_b = domain_b or found[1]
    if {domain_a, domain_b} != set(found):
        raise ConversionError(f'domains {domain_a!r}/{domain_b!r} are not those of the '
                              f'checkpoint: {found}')
    domain_of = _net_domains(domain_a, domain_b)
    out = {}
    for net, (group, dom) in domain_of.items():
        prefix = f'{group}.{dom}.'
        out[net] = OrderedDict((plugin_to_official_key(k[len(prefix):], net), v.clone())
                               for k, v in sd.items() if k.startswith(prefix))
    # official state-dict order: rebuild from the official module layout, which is
    # also the official parameters() order the optimizers index
    arch = infer_config(out)
    gen_ref, dis_ref = _build_networks(arch)
    for net in OFFICIAL_NETS:
        ref = dis_ref if net.startswith('dis') else gen_ref
        out[net] = OrderedDict((k, out[net][k]) for k in _official_order(ref, net))
    optim = ckpt.get('optimizer') if isinstance(ckpt, dict) else None
    if optim and 'generators' in optim and 'discriminators' in optim:
        refs = {n: dis_ref if n.startswith('dis') else gen_ref for n in OFFICIAL_NETS}
        for group, nets, dst in (('generators', ('gen2B', 'gen2A'), 'G_optimizer'),
                                 ('discriminators', ('disA', 'disB'), 'D_optimizer')):
            plugin_order = _plugin_param_order(group, domain_a, domain_b, refs)
            official_order = []
            for net in nets:
                official_order += [(net, official_to_plugin_key(k, net))
                                   for k in _param_names(out[net], net, refs[net])]
            pos = {key: i for i, key in enumerate(plugin_order)}
            src = optim[group]
            state = {j: src['state'][pos[key]] for j, key in enumerate(official_order)
                     if pos[key] in src['state']}
            group_sd = dict(src['param_groups'][0])
            group_sd['params'] = list(range(len(official_order)))
            group_sd.pop('initial_lr', None)  # MMEngine scheduler bookkeeping
            out[dst] = {'state': state, 'param_groups': [group_sd]}
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    out['start_iter'] = int(meta.get('iter', 0))
    return out


def _official_order(ref: torch.nn.Module, net: str) -> List[str]:
    """Official state-dict key order: module attributes in official registration order."""
    if net.startswith('dis'):
        heads = ['lamda', 'fc', 'conv1x1', 'conv0', 'conv1', 'model', 'Dis0_0', 'Dis0_1',
                 'Dis1_0', 'Dis1_1']
    else:
        heads = ['gamma', 'beta', 'UpBlock1_', 'FC', 'UpBlock0', 'UpBlock2']
    keys = [plugin_to_official_key(k, net) for k in ref.state_dict()]

    def rank(k: str) -> Tuple[int, int]:
        head = k.split('.')[0]
        for i, h in enumerate(heads):
            if head == h or (h.endswith('_') and head.startswith(h)):
                return i, int(head[len(h):]) if h.endswith('_') else 0
        raise KeyError(k)

    # stable sort keeps the order inside each module, which both layouts share
    # (bias, weight_orig|original, weight_u|_u, weight_v|_v; rho, gamma, beta)
    return sorted(keys, key=rank)


def config_text(model_cfg: dict, img_size: int) -> str:
    """A minimal model + test-pipeline config for a converted checkpoint (the file
    ``tools/convert_official_checkpoint.py`` writes next to it)."""
    a, b = model_cfg['reachable_domains']
    pipeline = [
        dict(type='LoadImageFromFile', key='img_A', color_type='color'),
        dict(type='LoadImageFromFile', key='img_B', color_type='color'),
        dict(type='Resize', keys=['img_A', 'img_B'], scale=(img_size, img_size),
             keep_ratio=False, interpolation='bilinear', backend='pillow'),
        dict(type='KeyMapper', mapping={f'img_{a}': 'img_A', f'img_{b}': 'img_B'},
             remapping={f'img_{a}': f'img_{a}', f'img_{b}': f'img_{b}'}),
        dict(type='PackInputs', keys=[f'img_{a}', f'img_{b}'],
             data_keys=[f'img_{a}', f'img_{b}'], meta_keys=['img_A_path', 'img_B_path']),
    ]
    return ('# Model config written by tools/convert_official_checkpoint.py for a checkpoint\n'
            '# converted from the official NICE-GAN code (architecture inferred from shapes).\n'
            "default_scope = 'mmagic'\n"
            "custom_imports = dict(imports=['nicegan_plugin'], allow_failed_imports=False)\n"
            f'model = {pprint.pformat(model_cfg, sort_dicts=False)}\n'
            f'test_pipeline = {pprint.pformat(pipeline, sort_dicts=False)}\n')

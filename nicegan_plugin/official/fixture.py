"""Make a parity fixture by running the official NICE-GAN code on real photos.

The official ``networks.py`` is imported at run time from a clone of
github.com/alpc91/NICE-GAN-pytorch and trained by :class:`.loop.OfficialLoop` (the one
restatement of ``NICE.py``'s step; nothing of the official code is copied here). What
``NICE.py`` does around that is restated here, statement for statement where numbers
depend on it:

- construction order ``gen2B, gen2A, disA, disB`` after ``torch.manual_seed(seed)``;
- the thop profiling of ``build_model``: a ``randn`` input, the stray ``total_ops`` /
  ``total_params`` buffers it leaves on ``disA`` and ``gen2B``, and the train-mode
  ``disA(input)`` that advances disA's spectral-norm vectors once;
- one training step of ``NICE.train`` (D update on detached fakes, G update re-encoding
  the reals, LSGAN / L1 losses with the official names and weights, the linear lr decay
  applied before the step), run in float64 from the float32 weights upcast.

Before the profiling, non-default values are written into every ``lamda``, every ``rho``
and the ``gamma``/``beta`` of every ILN (defaults would hide a converter or a network that
ignores them). The fixture format is described in ``tests/data/official_parity/README.md``;
:func:`load_inputs` / :func:`load_final_state` read the parts stored compactly.
"""
import copy
import dataclasses
import json
import os
import os.path as osp
import subprocess
from types import ModuleType
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from PIL import Image
from torch import nn

from ..utils.fileio import atomic_torch_save, atomic_write
from ..utils.image_io import collect_images, read_rgb, resize_rgb
from .constants import OFFICIAL_NETS, THOP_SUFFIXES
from .loop import (
    D_LOSSES,
    G_LOSSES,
    OfficialLoop,
    build_official_networks,
    load_official_networks,
    official_adam,
)

#: the files of a fixture folder (meta.json last: written when the rest is complete)
FIXTURE_FILES = ('meta.json', 'official_params_init.pt', 'inputs.pt', 'expected_eval.pt',
                 'expected_train.pt')
#: module types thop (the version the official checkpoints were profiled with) counts and
#: then strips of its buffers; every other module keeps ``total_ops``/``total_params``
THOP_COUNTED = (nn.Conv2d, nn.Linear, nn.ReLU, nn.LeakyReLU, nn.PixelShuffle, nn.Sequential)
#: photo sub-folders of domain A and B (tests/data/photos: cat faces, dog faces)
DOMAIN_FOLDERS = ('cat', 'dog')
#: how ``expected_train.pt`` stores ``final_state`` (see :func:`encode_final_state`)
FINAL_STATE_ENCODINGS = ('float64', 'delta32')
FINAL_STATE_NOTES = {
    'float64': 'float64 state dicts',
    'delta32': 'parameters as float32 differences from official_params_init.pt, '
               'spectral-norm u/v float64'}


class FixtureError(ValueError):
    """The official code or the photos cannot make the asked-for fixture."""


@dataclasses.dataclass
class FixtureOptions:
    """How a fixture is made; all of it goes into ``meta.json`` (flat, so a parity check
    reads ``meta['steps']``, ``meta['lr']``, ...). Defaults: the official ``main.py``
    defaults where it has them (lr, weight decay, loss weights), else a small light run."""
    light: bool = True
    ch: int = 3
    n_res: int = 2
    n_dis: int = 6
    img_size: int = 64
    batch_size: int = 2
    steps: int = 4
    iteration: int = 6
    seed: int = 0
    photos: str = 'tests/data/photos'
    photo_offset: int = 0
    eval_batch: int = 1
    final_state: str = 'delta32'
    lr: float = 1e-4
    weight_decay: float = 1e-4
    adv_weight: int = 1
    cycle_weight: int = 10
    recon_weight: int = 10

    @classmethod
    def from_meta(cls, meta: dict) -> 'FixtureOptions':
        """The options a fixture's ``meta.json`` records."""
        return cls(**{f.name: meta[f.name] for f in dataclasses.fields(cls)})

    def tool_args(self) -> List[str]:
        """These options as ``tools/make_parity_fixture.py`` arguments."""
        args = ['--light' if self.light else '--full']
        for field in dataclasses.fields(self):
            if field.name != 'light':
                args += ['--' + field.name.replace('_', '-'), str(getattr(self, field.name))]
        return args

    def check(self) -> None:
        """Refuse what the official code cannot run (one line each)."""
        if self.final_state not in FINAL_STATE_ENCODINGS:
            raise FixtureError(f'final_state must be one of {FINAL_STATE_ENCODINGS}, '
                               f'not {self.final_state!r}')
        if min(self.ch, self.batch_size, self.steps, self.img_size) < 1 or self.n_res < 0:
            raise FixtureError('ch, batch size, steps and img size must be >= 1, n_res >= 0')
        if self.n_dis < 6:
            raise FixtureError(f'n_dis {self.n_dis}: the official discriminator needs >= 6 '
                               '(5 fails on a channel mismatch)')
        if self.img_size < 64 or self.img_size % 4:
            raise FixtureError(f'img size {self.img_size}: the official networks need a '
                               'multiple of 4 and >= 64 (n_dis 6; 96 for n_dis 7)')
        if self.iteration < 2 or self.steps > 2 * (self.iteration // 2):
            raise FixtureError(f'iteration {self.iteration}: must be >= 2 and steps ({self.steps})'
                               ' <= 2 * (iteration // 2), else the official lr goes negative')
        if not 1 <= self.eval_batch <= self.batch_size:
            raise FixtureError(f'eval batch must be in 1..{self.batch_size} (the batch size)')


# ------------------------------------------------------------------ the official code
def official_commit(repo: str) -> str:
    """``git rev-parse HEAD`` of the clone, plus ``-dirty`` when its ``networks.py`` (what
    the fixture's numbers depend on) is not the one of HEAD."""
    def git(*args: str) -> str:
        proc = subprocess.run(['git', '-C', repo, *args], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ''
    head = git('rev-parse', 'HEAD')
    if not head:
        return 'unknown (not a git checkout)'
    same = git('rev-parse', 'HEAD:networks.py') == git('hash-object', 'networks.py')
    return head if same else head + '-dirty'


def build_official(networks: ModuleType, opts: FixtureOptions) -> Dict[str, nn.Module]:
    """``{gen2B, gen2A, disA, disB}`` (float32) as ``NICE.build_model`` leaves them, with
    non-default norm / attention values, seeded by ``opts.seed``."""
    torch.manual_seed(opts.seed)
    nets = build_official_networks(networks, dataclasses.asdict(opts))
    with torch.no_grad():
        for net in nets.values():
            for name, p in net.named_parameters():
                if name.endswith('rho') or (p.dim() == 4 and name.endswith(('gamma', 'beta'))):
                    p.add_(0.1 * torch.randn_like(p))  # the ILN/adaILN mix and ILN affine
                elif name == 'lamda':
                    p.fill_(0.1 + 0.5 * torch.rand(1).item())  # the CAM residual weight
    # build_model's profiling: randn input; thop(disA); disA(input) in train mode; thop(gen2B)
    profile_input = torch.randn([1, 3, opts.img_size, opts.img_size])
    add_thop_buffers(nets['disA'])
    with torch.no_grad():
        nets['disA'](profile_input)  # one spectral-norm power iteration on disA only
    add_thop_buffers(nets['gen2B'])
    return nets


def add_thop_buffers(net: nn.Module) -> None:
    """Leave the ``total_ops``/``total_params`` float64 buffers that thop profiling leaves
    in the official checkpoints (issues #4, #28) on every module it has no rule for."""
    for module in net.modules():
        if not isinstance(module, THOP_COUNTED):
            module.register_buffer('total_ops', torch.zeros(1, dtype=torch.float64))
            module.register_buffer('total_params', torch.zeros(1, dtype=torch.float64))


def official_checkpoint(nets: Dict[str, nn.Module], opts: FixtureOptions) -> dict:
    """What ``NICE.save_path`` writes before any step: float32 state dicts (thop buffers
    included), both Adam state dicts and ``start_iter`` 0."""
    ckpt = {name: copy.deepcopy(net.state_dict()) for name, net in nets.items()}
    ckpt['D_optimizer'] = official_adam(nets['disA'], nets['disB'], opts.lr,
                                        opts.weight_decay).state_dict()
    ckpt['G_optimizer'] = official_adam(nets['gen2B'], nets['gen2A'], opts.lr,
                                        opts.weight_decay).state_dict()
    ckpt['start_iter'] = 0
    return ckpt


def plain_state(net: nn.Module) -> Dict[str, torch.Tensor]:
    """A state dict without the thop buffers (detached copies)."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()
            if k.rsplit('.', 1)[-1] not in THOP_SUFFIXES}


# ------------------------------------------------------------------ photos
def to_float64(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB uint8 -> float64 in [-1, 1]: ``ToTensor`` + ``Normalize(0.5, 0.5)``
    of the official transforms, in float64."""
    return (images.to(torch.float64) / 255 - 0.5) / 0.5


def pick_photos(opts: FixtureOptions) -> Tuple[List[str], List[str]]:
    """Paths of the ``steps * batch`` photos per domain (sorted by name, from
    ``photo_offset``): domain A from ``cat/``, B from ``dog/`` of ``opts.photos``."""
    need = opts.steps * opts.batch_size
    picked = []
    for folder in DOMAIN_FOLDERS:
        root = osp.join(opts.photos, folder)
        if not osp.isdir(root):
            raise FixtureError(f'{root} not found: --photos must hold cat/ and dog/ folders')
        paths = [p for p, _ in collect_images(root, recursive=False)]
        chosen = paths[opts.photo_offset:opts.photo_offset + need]
        if len(chosen) < need:
            raise FixtureError(f'{root} has {len(paths)} images; steps x batch = {need} from '
                               f'offset {opts.photo_offset} need more')
        picked.append(chosen)
    return picked[0], picked[1]


def read_batches(paths: Sequence[str], opts: FixtureOptions) -> List[torch.Tensor]:
    """One (batch, 3, S, S) RGB uint8 tensor per step; each photo resized to S x S with
    PIL bicubic (``Image.resize``'s default), the aspect ratio not kept."""
    size = (opts.img_size, opts.img_size)
    images = [torch.from_numpy(resize_rgb(read_rgb(p), size, Image.BICUBIC).copy())
              for p in paths]
    stacked = torch.stack(images).permute(0, 3, 1, 2).contiguous()
    return list(stacked.split(opts.batch_size))


# ------------------------------------------------------------------ running it
def official_eval(nets: Dict[str, nn.Module], real_a: torch.Tensor,
                  real_b: torch.Tensor) -> Dict[str, object]:
    """Eval-mode outputs of the official networks (no power iteration), as the README of
    the fixture names them."""
    for net in nets.values():
        net.eval()
    gen2b, gen2a, dis_a, dis_b = (nets[n] for n in OFFICIAL_NETS)
    with torch.no_grad():
        out_a, out_b = dis_a(real_a), dis_b(real_b)
        fake_a2b, fake_b2a = gen2b(out_a[4]), gen2a(out_b[4])
        return {'disA_real_A': tuple(out_a), 'disB_real_B': tuple(out_b),
                'fake_A2B': fake_a2b, 'fake_B2A': fake_b2a,
                'fake_A2A': gen2a(out_a[4]), 'fake_B2B': gen2b(out_b[4]),
                'fake_A2B2A': gen2a(dis_b(fake_a2b)[4]),
                'fake_B2A2B': gen2b(dis_a(fake_b2a)[4])}


def official_train(nets: Dict[str, nn.Module], batches_a: Sequence[torch.Tensor],
                   batches_b: Sequence[torch.Tensor], opts: FixtureOptions) -> List[dict]:
    """``NICE.train`` for ``len(batches_a)`` steps from step 1 on ``nets`` (trained in
    place, :class:`.loop.OfficialLoop`); per step the lr used and every loss term (floats)."""
    loop = OfficialLoop(nets, opts.lr, opts.weight_decay,
                        dict(adv=opts.adv_weight, cycle=opts.cycle_weight,
                             recon=opts.recon_weight))
    log = []
    for step, (real_a, real_b) in enumerate(zip(batches_a, batches_b), start=1):
        loop.decay_lr(step, opts.iteration)  # before the step's updates
        entry = {'lr': loop.G_optim.param_groups[0]['lr']}
        losses = loop.step(real_a, real_b)
        entry.update({k: losses[k].item() for k in D_LOSSES + G_LOSSES})
        log.append(entry)
    return log


# ------------------------------------------------------------------ storage
def is_sn_buffer(key: str) -> bool:
    """Spectral-norm power-iteration vectors (state that is not a small step from init)."""
    return key.endswith(('weight_u', 'weight_v'))


def encode_final_state(final: Dict[str, Dict[str, torch.Tensor]],
                       init: Dict[str, Dict[str, torch.Tensor]], mode: str) -> dict:
    """``float64``: the state dicts as they are. ``delta32``: parameters as float32
    differences from the float32 initial values (a few Adam steps move a weight by about
    ``steps * lr``, so the difference keeps ~1e-10 of the weight; half the bytes), the
    spectral-norm vectors in float64."""
    if mode == 'float64':
        return final
    out = {}
    for net, sd in final.items():
        out[net] = {k: v if is_sn_buffer(k) else (v - init[net][k].double()).float()
                    for k, v in sd.items()}
    return out


def load_final_state(fixture: str, expected_train: Optional[dict] = None
                     ) -> Dict[str, Dict[str, torch.Tensor]]:
    """The float64 state dicts after the last step, decoded (see :func:`encode_final_state`)."""
    if expected_train is None:
        expected_train = torch.load(osp.join(fixture, 'expected_train.pt'), weights_only=True)
    mode = expected_train.get('final_state_encoding', 'float64')
    final = expected_train['final_state']
    if mode not in FINAL_STATE_ENCODINGS:
        raise FixtureError(f'{fixture}/expected_train.pt: unknown final_state_encoding {mode!r}')
    if mode == 'float64':
        return final
    init = torch.load(osp.join(fixture, 'official_params_init.pt'), weights_only=True)
    return {net: {k: v if is_sn_buffer(k) else init[net][k].double() + v.double()
                  for k, v in sd.items()} for net, sd in final.items()}


def load_inputs(fixture: str) -> Dict[str, List[torch.Tensor]]:
    """``{'real_A': [per step (N, 3, H, W) float64 in [-1, 1]], 'real_B': [...]}`` of a
    fixture (stored as RGB uint8; float64 ones are taken as they are)."""
    inputs = torch.load(osp.join(fixture, 'inputs.pt'), weights_only=True)
    return {k: [to_float64(x) if x.dtype == torch.uint8 else x for x in v]
            for k, v in inputs.items()}


# ------------------------------------------------------------------ the whole fixture
def make_fixture(official_repo: str, out: str, opts: FixtureOptions,
                 log: Callable[[str], None] = print) -> dict:
    """Run the official code and write the fixture folder ``out``; returns ``meta``.
    Each file is written atomically, ``meta.json`` last (a folder with it is complete)."""
    opts.check()
    networks = load_official_networks(official_repo)
    paths_a, paths_b = pick_photos(opts)
    uint8_a, uint8_b = read_batches(paths_a, opts), read_batches(paths_b, opts)
    real_a = [to_float64(x) for x in uint8_a]
    real_b = [to_float64(x) for x in uint8_b]

    nets = build_official(networks, opts)
    ckpt = official_checkpoint(nets, opts)
    init = {n: plain_state(nets[n]) for n in OFFICIAL_NETS}
    nets64 = {n: copy.deepcopy(nets[n]).double() for n in OFFICIAL_NETS}
    k = opts.eval_batch
    log(f'eval-mode outputs for {k} image(s) per domain')
    expected_eval = official_eval(copy.deepcopy(nets64), real_a[0][:k], real_b[0][:k])
    log(f'{opts.steps} official training steps in float64 (a schedule of {opts.iteration})')
    losses = official_train(nets64, real_a, real_b, opts)
    final = {n: plain_state(nets64[n]) for n in OFFICIAL_NETS}
    expected_train = dict(losses=losses, final_state_encoding=opts.final_state,
                          final_state=encode_final_state(final, init, opts.final_state))

    meta = dataclasses.asdict(opts)
    meta.update(
        command=' '.join(['python tools/make_parity_fixture.py --official-repo CLONE --out',
                          out, *opts.tool_args()]),
        official_repo='github.com/alpc91/NICE-GAN-pytorch',
        official_commit=official_commit(official_repo),
        torch_version=torch.__version__,
        domains=dict(A=DOMAIN_FOLDERS[0], B=DOMAIN_FOLDERS[1]),
        images_A=[osp.basename(p) for p in paths_a],
        images_B=[osp.basename(p) for p in paths_b],
        dtype='official_params_init.pt float32 (as the official code saves it); inputs.pt '
              'RGB uint8, float64 through (x / 255 - 0.5) / 0.5; expected outputs and losses '
              'float64; final_state: ' + FINAL_STATE_NOTES[opts.final_state])
    os.makedirs(out, exist_ok=True)
    atomic_torch_save(ckpt, osp.join(out, 'official_params_init.pt'))
    atomic_torch_save({'real_A': uint8_a, 'real_B': uint8_b}, osp.join(out, 'inputs.pt'))
    atomic_torch_save(expected_eval, osp.join(out, 'expected_eval.pt'))
    atomic_torch_save(expected_train, osp.join(out, 'expected_train.pt'))
    atomic_write(osp.join(out, 'meta.json'), json.dumps(meta, indent=2) + '\n')
    return meta

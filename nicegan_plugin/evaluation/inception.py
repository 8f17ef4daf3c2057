"""The FID Inception network, loaded from a local file only (never from the network).

MMagic's ``inception_style='PyTorch'`` FID ignores ``inception_path`` and downloads the
pytorch-fid weights through ``torch.utils.model_zoo``; its ``'StyleGAN'`` style falls back
to a download too. Here the weights come from one local file, found in this order:

1. the ``inception_path`` argument (config) / ``--inception`` (tools);
2. the environment variable ``NICEGAN_INCEPTION``;
3. the files MMagic / pytorch-fid would have cached:
   ``$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth`` and
   ``~/.cache/openmmlab/mmagic/inception-2015-12-05.pt``.

Two file kinds are accepted, told apart by their content:

- ``'PyTorch'``: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``, a state dict for
  ``mmagic.evaluation.functional.fid_inception.fid_inception_v3()`` (the TF FID Inception
  patched into torchvision's ``Inception3``, 1008 classes). Input: RGB in [-1, 1], resized
  bilinearly to 299 (the paper's ``metric/fid_kid.py`` protocol);
- ``'StyleGAN'``: NVIDIA's TorchScript ``inception-2015-12-05.pt`` (uint8 RGB input).

Both give the 2048-d pool3 features. Networks are cached per file so that every metric
of a process shares one copy.
"""
import hashlib
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
STYLES = ('PyTorch', 'StyleGAN')
FEATURE_DIM = 2048

# file sha256 memo keyed by (path, size, mtime) and loaded networks keyed by sha256
_SHA_CACHE: Dict[Tuple[str, int, float], str] = {}
_NETWORKS: Dict[str, Tuple[nn.Module, str]] = {}


class InceptionWeightsNotFound(FileNotFoundError):
    """No local FID Inception weights; the message says what to download and where."""


def default_weight_locations() -> Tuple[str, ...]:
    """Where MMagic / pytorch-fid cache the weights (computed locally, no hub call)."""
    hub_ckpt = osp.join(torch.hub.get_dir(), 'checkpoints', PYTORCH_FID_FILE)
    mmagic_cache = osp.join(osp.expanduser('~'), '.cache', 'openmmlab', 'mmagic', STYLEGAN_FILE)
    return hub_ckpt, mmagic_cache


def missing_weights_message(tried: str) -> str:
    """Tells exactly which file to download, from where, and where to put it."""
    hub_ckpt, mmagic_cache = default_weight_locations()
    return (
        f'FID/KID need the standard FID Inception weights, which are never downloaded at run '
        f'time; not found: {tried}.\nDownload (on a machine with internet access) either\n'
        f'  (a) {PYTORCH_FID_URL}\n      (pytorch-fid weights, the NICE-GAN paper protocol) or\n'
        f'  (b) {STYLEGAN_URL}\n      (StyleGAN TorchScript model)\n'
        f'and point to it with the metric argument inception_path=<file> (or --inception for '
        f'tools/eval_folders.py) or the environment variable {ENV_VAR}=<file>, or put it at\n'
        f'  {hub_ckpt}  (file a) or\n  {mmagic_cache}  (file b).')


def resolve_inception_path(inception_path: Optional[str] = None) -> str:
    """The local weight file to use (argument, then $NICEGAN_INCEPTION, then caches).

    An explicitly given path (argument or environment) must exist; the default cache
    locations are only looked at when neither is set.
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
    raise InceptionWeightsNotFound(missing_weights_message(
        f'inception_path and ${ENV_VAR} are unset and neither default location exists'))


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


def detect_style(path: str) -> str:
    """``'StyleGAN'`` for a TorchScript archive (it has a ``code/`` folder), else ``'PyTorch'``."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if any('/code/' in name or name.startswith('code/') for name in zf.namelist()):
                return 'StyleGAN'
    return 'PyTorch'


class FIDInceptionFeatures(nn.Module):
    """pool3 features (N, 2048) of the TF FID Inception for RGB input in [-1, 1], any size.

    Wraps MMagic's ``fid_inception_v3`` module tree (so that pytorch-fid's state dict loads
    into it unchanged) and runs it exactly like pytorch-fid's / MMagic's ``InceptionV3``
    with ``output_blocks=[3]``: bilinear resize to 299, the stem, Mixed_5b..Mixed_7c,
    global average pooling. ``fc`` is kept only so that the state dict matches.
    """

    _LAYERS = ('Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3', 'maxpool1', 'Conv2d_3b_1x1',
               'Conv2d_4a_3x3', 'maxpool2', 'Mixed_5b', 'Mixed_5c', 'Mixed_5d', 'Mixed_6a',
               'Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e', 'Mixed_7a', 'Mixed_7b', 'Mixed_7c',
               'avgpool')

    def __init__(self) -> None:
        super().__init__()
        from mmagic.evaluation.functional.fid_inception import fid_inception_v3

        # load_ckpt=False: torchvision's net is built with pretrained=False (weights=None)
        # and model_zoo.load_url is never reached; weights come from load_weights().
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message=".*(pretrained|weight enum).*")
            self.net = fid_inception_v3(load_ckpt=False)
        self.net.eval()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False)
        for name in self._LAYERS:
            x = getattr(self.net, name)(x)
        return x.flatten(1)

    def load_weights(self, path: str) -> None:
        """Load pytorch-fid's state dict (keys of torchvision's ``Inception3``)."""
        state = torch.load(path, map_location='cpu', weights_only=True)
        try:
            self.net.load_state_dict(state)
        except RuntimeError as exc:
            raise RuntimeError(f'{path} is not a state dict of the FID Inception '
                               f'({PYTORCH_FID_FILE}): {exc}') from exc


def load_inception(inception_path: Optional[str] = None,
                   inception_style: Optional[str] = None) -> Tuple[nn.Module, str, str]:
    """Load (or reuse) the FID Inception network from a local file.

    Args:
        inception_path: the weight file; see :func:`resolve_inception_path` for fallbacks.
        inception_style: ``'PyTorch'`` or ``'StyleGAN'`` to assert the file kind; ``None``
            detects it from the file.

    Returns:
        ``(network in eval mode, style, weights id)``; the id (the file's sha256) keys the
        feature caches, so features from different weights never mix.
    """
    path = resolve_inception_path(inception_path)
    style = detect_style(path)
    if inception_style is not None and inception_style.lower() != style.lower():
        expected = PYTORCH_FID_FILE if inception_style.lower() == 'pytorch' else STYLEGAN_FILE
        raise ValueError(f'inception_style={inception_style!r} expects {expected}, but {path} is '
                         f'a {style!r} weight file; set inception_style={style!r} or None.')
    sha = file_sha256(path)
    if sha not in _NETWORKS:
        if style == 'StyleGAN':
            net = torch.jit.load(path, map_location='cpu')
        else:
            net = FIDInceptionFeatures()
            net.load_weights(path)
        net.eval()
        print_log(f'Loaded FID Inception ({style}) from {path} (sha256 {sha})', 'current')
        _NETWORKS[sha] = (net, style)
    net, style = _NETWORKS[sha]
    return net, style, f'{style}:{sha}'


def network_device(net: nn.Module) -> torch.device:
    """Device of the network's parameters (CPU for a parameterless module)."""
    param = next(net.parameters(), None)
    return param.device if param is not None else torch.device('cpu')


@torch.no_grad()
def inception_features(net: nn.Module, style: str, images: torch.Tensor) -> torch.Tensor:
    """Pool3 features of BGR images in [0, 255] (the layout of ``fake_*``/``img_*``).

    Args:
        net, style: from :func:`load_inception`.
        images: (N, 3, H, W) float BGR in [0, 255] (any H, W; resized by the network).

    Returns:
        (N, 2048) float32 features on the CPU.
    """
    x = images[:, [2, 1, 0]].to(network_device(net), torch.float32)
    if style == 'StyleGAN':
        feat = net(x.clamp(0, 255).round().to(torch.uint8), return_features=True)
    else:
        feat = net((x - 127.5) / 127.5)
    return feat.reshape(len(x), -1).float().cpu()

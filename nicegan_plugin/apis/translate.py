"""Loading a NICE-GAN model and translating image files (the logic of tools/translate.py).

- :func:`load_model`: config + checkpoint -> model in eval mode, with errors that
  name the file and the offending key (a wrong checkpoint otherwise loads with
  mere warnings under mmengine's non-strict loading and translates garbage).
- :func:`translate_arrays`: RGB uint8 arrays of any size -> translations (and CAM
  overlays), resized to the model's size and back.
- :func:`translate_images`: a file or a folder tree -> the same relative paths
  under an output folder; unreadable files are reported, not fatal.
"""
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from PIL import Image, ImageOps

from .image_io import ModelIO, colorize_heatmap, eval_mode, resize_rgb, unwrap

#: extensions read from folders (case-insensitive); the official dataset's list + tiff/webp
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
#: suffix of the CAM overlay written next to an output (``<stem>_cam<ext>``)
HEATMAP_SUFFIX = '_cam'
_THOP_SUFFIXES = ('total_ops', 'total_params')
_OFFICIAL_NETS = ('gen2B', 'gen2A', 'disA', 'disB')


class ImageReadError(OSError):
    """An input file could not be decoded as an image."""


# ----------------------------------------------------------------------- model
def _load_config(config: Union[str, Config]) -> Config:
    if isinstance(config, Config):
        cfg = config
    else:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config}')
        try:
            cfg = Config.fromfile(config)
        except Exception as err:  # syntax errors, bad _base_, failed custom_imports
            raise ValueError(f'cannot parse config {config}: {type(err).__name__}: {err}') \
                from err
    if 'model' not in cfg:
        raise KeyError(f'config {getattr(cfg, "filename", config)} has no `model` key')
    return cfg


def read_state_dict(checkpoint: str) -> Dict[str, torch.Tensor]:
    """The model weights of an mmengine-style checkpoint (``{'state_dict': ...}``) or
    of a bare state dict, on CPU; ``module.`` prefixes and thop buffers dropped.

    Raises a clear error for a missing/unreadable file and for an official
    (unconverted) NICE-GAN checkpoint.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    from mmengine.runner.checkpoint import CheckpointLoader
    try:
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    except Exception as err:
        raise ValueError(f'cannot read checkpoint {checkpoint}: {type(err).__name__}: '
                         f'{err}') from err
    if not isinstance(ckpt, dict):
        raise ValueError(f'checkpoint {checkpoint} holds a {type(ckpt).__name__}, '
                         'expected a dict with a `state_dict` key')
    if all(k in ckpt for k in _OFFICIAL_NETS):
        raise ValueError(
            f'checkpoint {checkpoint} is an official NICE-GAN checkpoint (keys '
            f'{", ".join(_OFFICIAL_NETS)}); convert it first with '
            'tools/convert_official_checkpoint.py')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise ValueError(f'checkpoint {checkpoint}: `state_dict` is missing or does not '
                         f'map names to tensors (top-level keys: {sorted(ckpt)[:8]})')
    return {re.sub(r'^module\.', '', k): v for k, v in state.items()
            if k.rsplit('.', 1)[-1] not in _THOP_SUFFIXES}


def _domains_in(keys: Iterable[str]) -> List[str]:
    return sorted({k.split('.')[1] for k in keys if k.startswith('generators.')})


def check_state_dict(model: nn.Module, state: Dict[str, torch.Tensor], checkpoint: str) -> None:
    """Raise a ValueError naming the keys/shapes of ``state`` that do not fit ``model``."""
    own = model.state_dict()
    ck_domains, cfg_domains = _domains_in(state), _domains_in(own)
    if ck_domains and ck_domains != cfg_domains:
        raise ValueError(f'checkpoint {checkpoint} is for domains {ck_domains}, the config '
                         f'for {cfg_domains} (model.reachable_domains / default_domain)')
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f'{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}'
             for k, v in own.items() if k in state and state[k].shape != v.shape]
    problems = []
    for what, keys in (('missing keys', missing), ('unexpected keys', unexpected),
                       ('shape mismatches', wrong)):
        if keys:
            more = f' (+{len(keys) - 5} more)' if len(keys) > 5 else ''
            problems.append(f'{len(keys)} {what}: {"; ".join(keys[:5])}{more}')
    if problems:
        raise ValueError(f'checkpoint {checkpoint} does not match the config\'s model '
                         '(check base_channels / num_blocks / num_layers / light / '
                         'img_size): ' + ' | '.join(problems))


def load_model(config: Union[str, Config], checkpoint: Optional[str],
               device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """Build the config's model with ``mmagic.apis.init_model`` and load a
    checkpoint strictly; returns it on ``device`` in eval mode with ``model.cfg``."""
    import nicegan_plugin  # noqa: F401  (registers NICEGAN, allows mmengine ckpts)
    from mmagic.apis import init_model
    cfg = _load_config(config)
    state = read_state_dict(checkpoint) if checkpoint else None
    model = init_model(cfg, None, device='cpu')
    if not hasattr(model, 'encode') or not hasattr(model, 'other_domain'):
        raise ValueError(f'config {getattr(cfg, "filename", config)}: model type '
                        f'{cfg.model.get("type")} is not a NICE-GAN model')
    if state is not None:
        check_state_dict(model, state, checkpoint)
        model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def model_image_size(model: nn.Module) -> Tuple[int, int]:
    """(height, width) the model was trained at: the ``Resize`` of the config's test
    pipeline, else the generator's ``img_size``, else 256."""
    net = unwrap(model)
    cfg = getattr(net, 'cfg', None)
    pipeline = None
    if cfg is not None:
        pipeline = cfg.get('test_pipeline') or \
            cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline')
    for t in pipeline or []:
        scale = t.get('scale') if isinstance(t, dict) and t.get('type') == 'Resize' else None
        if isinstance(scale, (tuple, list)) and len(scale) == 2 and \
                all(isinstance(s, int) for s in scale):
            return int(scale[1]), int(scale[0])  # mmcv.imresize takes (w, h)
    if cfg is not None and cfg.model.get('generator', {}).get('img_size'):
        size = int(cfg.model.generator.img_size)
        return size, size
    gen = next(iter(net.generators.values()))
    size = int(getattr(gen, 'img_size', 256))
    return size, size


def resolve_direction(model: nn.Module, direction: str) -> Tuple[str, str]:
    """(source, target) domains for ``'a2b'`` (domains[0] -> domains[1]), ``'b2a'``,
    or ``'<source>2<target>'`` spelled with the model's domain names."""
    a, b = unwrap(model).domains
    named = {'a2b': (a, b), 'b2a': (b, a), f'{a}2{b}': (a, b), f'{b}2{a}': (b, a)}
    if direction not in named:
        raise ValueError(f'unknown direction {direction!r}; use one of {sorted(named)}')
    return named[direction]


# ---------------------------------------------------------------- translation
def translate_arrays(model: nn.Module, images: Sequence[np.ndarray], target_domain: str,
                     size: Optional[Tuple[int, int]] = None, keep_size: bool = True,
                     heatmaps: bool = False
                     ) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]]]:
    """Translate HxWx3 RGB uint8 images (any sizes) into ``target_domain``.

    Args:
        size: model input (height, width); default :func:`model_image_size`.
        keep_size: resize each output back to its input's size (bicubic).
        heatmaps: also return, per image, the source encoder's CAM heatmap (JET,
            official ``utils.cam``) blended 50/50 over the input, as RGB.

    Returns:
        (translations, overlays or None), RGB uint8.
    """
    net = unwrap(model)
    size = size or model_image_size(net)
    source = net.other_domain(target_domain)
    io = ModelIO(net)
    batch = io.to_input([resize_rgb(im, size) for im in images])
    with eval_mode(net):
        z = net.encode(batch, source)
        fake = io.to_rgb(net.generators[target_domain](z))
        # official heatmap = channel sum of z (DiscriminatorOutput.heatmap)
        heat = z.sum(dim=1).float().cpu().numpy() if heatmaps else None
    outs: List[np.ndarray] = []
    overlays: Optional[List[np.ndarray]] = [] if heatmaps else None
    for i, im in enumerate(images):
        out_size = im.shape[:2] if keep_size else size
        outs.append(resize_rgb(fake[i], out_size, Image.BICUBIC))
        if overlays is not None:
            base = resize_rgb(im, out_size)
            color = colorize_heatmap(heat[i], out_size)[..., ::-1]
            overlays.append(((base.astype(np.uint16) + color) // 2).astype(np.uint8))
    return outs, overlays


def read_rgb(path: str) -> np.ndarray:
    """HxWx3 RGB uint8 of any image PIL reads: grayscale and palette images become
    3-channel, alpha is dropped (as MMagic's and the official loaders do), 16-bit
    images are scaled to 8 bits, EXIF orientation is applied (as OpenCV does)."""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode.startswith(('I', 'F')):  # 16/32-bit grayscale
                arr = np.asarray(img, dtype=np.float64)
                arr = arr / 257.0 if arr.max() > 255 else arr
                img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
            rgb = np.asarray(img.convert('RGB'))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageReadError(f'{type(err).__name__}: {err}') from err
    if rgb.ndim != 3 or min(rgb.shape[:2]) < 1:
        raise ImageReadError(f'empty image of shape {rgb.shape}')
    return rgb


def save_rgb(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 image; the format follows the extension."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    ext = osp.splitext(path)[1].lower()
    kwargs = dict(quality=95) if ext in ('.jpg', '.jpeg', '.webp') else {}
    Image.fromarray(image).save(path, **kwargs)


def collect_images(input_path: str) -> List[Tuple[str, str]]:
    """``(path, relative path)`` of one file, or of every image file under a folder
    (recursive, sorted, extensions in :data:`IMAGE_EXTENSIONS`)."""
    if osp.isfile(input_path):
        return [(input_path, osp.basename(input_path))]
    if not osp.isdir(input_path):
        raise FileNotFoundError(f'input not found: {input_path}')
    found = []
    for root, dirs, files in os.walk(input_path, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_EXTENSIONS):
                path = osp.join(root, name)
                found.append((path, osp.relpath(path, input_path)))
    return found


def images_from_files(model: nn.Module, paths: Sequence[str]) -> torch.Tensor:
    """(B, 3, H, W) model-space batch of image files at the model's size, e.g. for
    :func:`~nicegan_plugin.apis.cam_panel` (``{domain: images_from_files(...)}``)."""
    size = model_image_size(model)
    return ModelIO(model).to_input([resize_rgb(read_rgb(p), size) for p in paths])


def heatmap_path(output_path: str) -> str:
    stem, ext = osp.splitext(output_path)
    return f'{stem}{HEATMAP_SUFFIX}{ext}'


@dataclass
class TranslationReport:
    """What :func:`translate_images` did: written outputs and skipped inputs."""
    outputs: List[str] = field(default_factory=list)
    failed: List[Tuple[str, str]] = field(default_factory=list)  # (input, reason)

    def summary(self) -> str:
        lines = [f'translated {len(self.outputs)} image(s), skipped {len(self.failed)}']
        lines += [f'  skipped {path}: {reason}' for path, reason in self.failed]
        return '\n'.join(lines)


def translate_images(model: nn.Module, input_path: str, output_dir: str,
                     direction: str = 'a2b', batch_size: int = 1, heatmaps: bool = False,
                     keep_size: bool = True, progress: bool = True) -> TranslationReport:
    """Translate a file or a folder tree into ``output_dir`` (same relative paths and
    names). Unreadable/corrupt files are skipped and listed in the report.

    Args:
        direction: ``'a2b'`` (model.domains[0] -> domains[1]), ``'b2a'`` or
            ``'<src>2<tgt>'``.
        heatmaps: also write ``<stem>_cam<ext>``, the CAM heatmap over the input.
        keep_size: outputs at the inputs' sizes (else at the model's size).
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    _, target = resolve_direction(model, direction)
    files = collect_images(input_path)
    size = model_image_size(model)
    report = TranslationReport()
    from tqdm import tqdm
    bar = tqdm(total=len(files), unit='img', disable=not progress, dynamic_ncols=True)
    for start in range(0, len(files), batch_size):
        loaded = []
        for path, rel in files[start:start + batch_size]:
            out_path = osp.join(output_dir, rel)
            if osp.exists(out_path) and osp.samefile(out_path, path):
                report.failed.append((path, 'output would overwrite the input'))
                continue
            try:
                loaded.append((path, out_path, read_rgb(path)))
            except ImageReadError as err:
                report.failed.append((path, str(err)))
        if loaded:
            outs, overlays = translate_arrays(model, [im for *_, im in loaded], target,
                                              size, keep_size, heatmaps)
            for i, (path, out_path, _) in enumerate(loaded):
                try:
                    save_rgb(out_path, outs[i])
                    if overlays is not None:
                        save_rgb(heatmap_path(out_path), overlays[i])
                    report.outputs.append(out_path)
                except (OSError, ValueError, KeyError) as err:  # unknown format, disk
                    report.failed.append((path, f'cannot write {out_path}: {err}'))
        bar.update(len(files[start:start + batch_size]))
    bar.close()
    return report

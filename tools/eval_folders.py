"""FID and KID between two image folders (NICE-GAN's ``metric/fid_kid.py`` protocol).

    python tools/eval_folders.py REAL_DIR FAKE_DIR [--inception PATH] [--json OUT]
        [--kid-subsets 100] [--kid-subset-size 1000] [--seed 0] [--batch-size 50]
        [--device cpu|cuda]

Images (``*.jpg``, ``*.jpeg``, ``*.png``, ``*.bmp``, sorted, not recursive) are read at their
native size and go through exactly the feature extraction and FID/KID functions the
``NICEGANTransFID``/``NICEGANTransKID`` metrics use: BGR [0, 255] -> RGB [-1, 1] -> bilinear 299 ->
pool3 (pytorch-fid weights), or uint8 into the StyleGAN TorchScript model. The weights are
a local file (``--inception``, else ``$NICEGAN_INCEPTION``, else the default caches); nothing
is downloaded. KID is printed as KID x 100, as in the paper.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from nicegan_plugin.evaluation.functional import (  # noqa: E402
    fid_from_features, kid_from_features)
from nicegan_plugin.evaluation.inception import (  # noqa: E402
    InceptionWeightsNotFound, inception_features, load_inception)

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def list_images(folder: str, role: str) -> List[str]:
    """Sorted image files of ``folder``; SystemExit with a clear message if none."""
    if not osp.isdir(folder):
        raise SystemExit(f'error: {role} folder does not exist: {folder}')
    files = sorted(osp.join(folder, f) for f in os.listdir(folder)
                   if f.lower().endswith(IMG_EXTS) and osp.isfile(osp.join(folder, f)))
    if not files:
        raise SystemExit(f'error: {role} folder has no images ({", ".join(IMG_EXTS)}): {folder}')
    return files


def read_bgr(path: str) -> torch.Tensor:
    """(3, H, W) float BGR in [0, 255] at native size (grey images become 3-channel)."""
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f'error: cannot read image {path}')
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()


def folder_features(files: List[str], net: torch.nn.Module, style: str,
                    batch_size: int = 50) -> np.ndarray:
    """(N, 2048) features; consecutive same-size images are batched (up to ``batch_size``)."""
    feats: List[torch.Tensor] = []
    batch: List[torch.Tensor] = []
    for path in files:
        img = read_bgr(path)
        if batch and (img.shape != batch[0].shape or len(batch) == batch_size):
            feats.append(inception_features(net, style, torch.stack(batch)))
            batch = []
        batch.append(img)
    feats.append(inception_features(net, style, torch.stack(batch)))
    return torch.cat(feats).numpy()


def evaluate_folders(real_dir: str, fake_dir: str, inception: Optional[str] = None,
                     kid_subsets: int = 100, kid_subset_size: int = 1000, seed: int = 0,
                     batch_size: int = 50, device: Optional[str] = None) -> dict:
    """FID and KID of ``fake_dir`` against ``real_dir``; the dict :func:`main` prints/saves."""
    real_files, fake_files = list_images(real_dir, 'real'), list_images(fake_dir, 'fake')
    net, style, weights_id = load_inception(inception)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    net.to(device)
    real = folder_features(real_files, net, style, batch_size)
    fake = folder_features(fake_files, net, style, batch_size)
    out = dict(real=osp.abspath(real_dir), fake=osp.abspath(fake_dir), n_real=len(real),
               n_fake=len(fake), inception_style=style, inception_sha256=weights_id.split(':')[1])
    out.update(fid_from_features(fake, real))
    out.update(kid_from_features(fake, real, kid_subsets, kid_subset_size, seed))
    out['kid_seed'] = seed
    return out


def main(argv: Optional[List[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('real', help='folder of real images of the target domain')
    p.add_argument('fake', help='folder of translated images')
    p.add_argument('--inception', default=None,
                   help='local FID Inception weights (pt_inception-2015-12-05-6726825d.pth or '
                   'inception-2015-12-05.pt); default $NICEGAN_INCEPTION or the caches')
    p.add_argument('--json', default=None, help='also write the results to this JSON file')
    p.add_argument('--kid-subsets', type=int, default=100)
    p.add_argument('--kid-subset-size', type=int, default=1000)
    p.add_argument('--seed', type=int, default=0, help='seed of the KID subset sampler')
    p.add_argument('--batch-size', type=int, default=50)
    p.add_argument('--device', default=None, help='default: cuda if available, else cpu')
    args = p.parse_args(argv)
    try:
        out = evaluate_folders(args.real, args.fake, args.inception, args.kid_subsets,
                               args.kid_subset_size, args.seed, args.batch_size, args.device)
    except InceptionWeightsNotFound as exc:
        raise SystemExit(f'error: {exc}') from None
    print(f"real {out['n_real']} images: {out['real']}\nfake {out['n_fake']} images: "
          f"{out['fake']}\nFID      {out['fid']:.4f}\nKIDx100  {out['kid_x100']:.4f} "
          f"(std x100 {100 * out['kid_std']:.4f}; {out['kid_subsets']} subsets of "
          f"{out['kid_subset_size']}, seed {out['kid_seed']})")
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == '__main__':
    main()

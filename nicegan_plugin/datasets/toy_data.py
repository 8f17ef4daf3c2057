"""The built-in two-domain toy set of the quickstart (no download), as image files.

Domain ``day``: bright scenes, warm coloured discs on a light sky-blue background.
Domain ``night``: the same kind of scenes at night, dim blue discs on a dark navy
background with small stars. A few hundred NICE-GAN iterations visibly learn to
darken the background and cool the colours; the shapes must be kept.

Layout (MMagic's UnpairedImageDataset): ``OUT/{trainA,trainB,testA,testB}/*.png``.
"""
import os
import os.path as osp

import cv2
import numpy as np


def scene(rng: np.random.RandomState, size: int, night: bool) -> np.ndarray:
    """One BGR uint8 image of 1-3 discs; the domain sets the palette."""
    if night:
        bg = np.array([70, 25, 10]) + rng.randint(-8, 8, 3)
        img = np.tile(bg.clip(0, 255).astype(np.uint8), (size, size, 1))
        for _ in range(rng.randint(4, 9)):  # stars
            x, y = rng.randint(0, size, 2)
            cv2.circle(img, (int(x), int(y)), 1, (200, 200, 220), -1)
    else:
        bg = np.array([235, 205, 150]) + rng.randint(-10, 10, 3)
        img = np.tile(bg.clip(0, 255).astype(np.uint8), (size, size, 1))
    for _ in range(rng.randint(1, 4)):
        r = int(rng.randint(size // 10, size // 4))
        x, y = (int(v) for v in rng.randint(r, size - r, 2))
        if night:
            color = (int(rng.randint(140, 200)), int(rng.randint(60, 110)), 30)
        else:
            color = (30, int(rng.randint(90, 170)), int(rng.randint(200, 255)))
        cv2.circle(img, (x, y), r, color, -1, lineType=cv2.LINE_AA)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def make_toy_dataset(out: str, n_train: int = 48, n_test: int = 8, size: int = 64,
                     seed: int = 0) -> str:
    """Write ``n_train`` + ``n_train`` training and ``n_test`` + ``n_test`` test images of
    ``size`` px under ``out`` (same files for the same arguments); returns ``out``."""
    rng = np.random.RandomState(seed)
    for split, n in (('train', n_train), ('test', n_test)):
        for dom, night in (('A', False), ('B', True)):
            folder = osp.join(out, f'{split}{dom}')
            os.makedirs(folder, exist_ok=True)
            for i in range(n):
                cv2.imwrite(osp.join(folder, f'{"night" if night else "day"}_{i:04d}.png'),
                            scene(rng, size, night))
    return out

"""Measurements on top of the package: the training step against the official code
(:mod:`.training`), inference speed per backend (:mod:`.inference`), memory and time of
whole-image vs tiled translation (:mod:`.tiling`), video flicker and speed
(:mod:`.video`), comparing trained models (NICE-GAN vs MMagic's CycleGAN: FID/KID,
speed, size, a picture; :mod:`.compare`)."""

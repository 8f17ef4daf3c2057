"""Distributed model wrappers: :mod:`.wrapper` for models that sync their own gradients
(NICE-GAN), :mod:`.grad_sync` for translation models that do not (MMagic's CycleGAN)."""

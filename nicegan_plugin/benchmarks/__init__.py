"""Developer harnesses on top of the package: comparing trained models (NICE-GAN vs
MMagic's CycleGAN: FID/KID, speed, size, a picture). The training-step benchmark
against the official code lives beside the other official-code interop, in
:mod:`nicegan_plugin.official.benchmark`."""

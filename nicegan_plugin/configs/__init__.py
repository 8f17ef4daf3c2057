"""The training recipes as MMEngine pure-Python configs, importable from any folder.

Not code: config files that a config inherits with ``with read_base(): from
nicegan_plugin.configs.<recipe> import *`` (MMEngine resolves the import to this folder
through the installed package, so it works from any folder and from a wheel). The paper's
recipe ``nicegan_light_1xb1_100kiters``, the quickstart's ``nicegan_light_tiny_1xb4_600iters``
and ``cyclegan_lsgan_resnet_in_baseline`` (import it after a recipe: MMagic's CycleGAN on the
same data), built from ``_base_/`` (model, data, schedule, runtime). A config on a recipe
states its data set's values (domain names, data root, test-set sizes; the project's
``configs/``); the keys that follow from them are worked out when it is built
(:mod:`nicegan_plugin.engine.config.derived_keys`).
"""

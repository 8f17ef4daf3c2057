# The quickstart: a small NICE-GAN on the built-in toy set (tools/make_toy_dataset.py),
# 64 px, trainable on a CPU in a few minutes. Everything else is the paper config's (same
# pipeline kinds, optimiser, schedule shape, runtime): ../_base_/nicegan_light-tiny_1xb4-600iters.py
_base_ = ['../_base_/nicegan_light-tiny_1xb4-600iters.py']
# This data set's values and the keys they decide (model domains, key mapping, pipelines,
# data roots, FID/KID metrics with the environment's FID Inception, best checkpoint per
# direction by FID).
vars().update(__import__('runpy').run_path('{{ fileDirname }}/../_base_/config_helpers.py')[
    'unpaired_domains'](
    _base_,
    domain_a='day', domain_b='night',
    data_root='data/toy_day2night',
    num_test_a=8, num_test_b=8,
))

# NICE-GAN (light, the paper's setting) on photo2portrait, 256 px, batch 1, 100k iters.
# Data: data/photo2portrait/{trainA,trainB,testA,testB}; A = photo, B = portrait.
_base_ = ['../_base_/nicegan_light_1xb1-100kiters.py']
# This data set's values and the keys they decide (model domains, key mapping, pipelines,
# data roots, FID/KID metrics, best checkpoint per direction by FID).
vars().update(__import__('runpy').run_path('{{ fileDirname }}/../_base_/config_helpers.py')[
    'unpaired_domains'](
    _base_,
    domain_a='photo', domain_b='portrait',
    data_root='data/photo2portrait',
    # photo<->portrait (DRIT) is not among the paper's benchmarks. Its test-set sizes are
    # not fixed here: -1 makes the metrics count testA/testB at run time.
    num_test_a=-1, num_test_b=-1,
))

# NICE-GAN (light, the paper's setting) on summer2winter, 256 px, batch 1, 100k iters.
# Data: data/summer2winter_yosemite/{trainA,trainB,testA,testB}; A = summer, B = winter.
_base_ = ['../_base_/nicegan_light_1xb1-100kiters.py']
# This data set's values and the keys they decide (model domains, key mapping, pipelines,
# data roots, FID/KID metrics, best checkpoint per direction by FID).
vars().update(__import__('runpy').run_path('{{ fileDirname }}/../_base_/config_helpers.py')[
    'unpaired_domains'](
    _base_,
    domain_a='summer', domain_b='winter',
    data_root='data/summer2winter_yosemite',
    num_test_a=309, num_test_b=238,  # test-set sizes: FID/KID use all translated images
))

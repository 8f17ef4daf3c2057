# NICE-GAN (light, the paper's setting) on cat2dog, 256 px, batch 1, 100k iters.
# Data: data/cat2dog/{trainA,trainB,testA,testB}; A = cat, B = dog.
_base_ = ['../_base_/nicegan_light_1xb1-100kiters.py']
# This data set's values and the keys they decide (model domains, key mapping, pipelines,
# data roots, FID/KID metrics, best checkpoint per direction by FID).
vars().update(__import__('runpy').run_path('{{ fileDirname }}/../_base_/config_helpers.py')[
    'unpaired_domains'](
    _base_,
    domain_a='cat', domain_b='dog',
    data_root='data/cat2dog',
    num_test_a=100, num_test_b=100,  # test-set sizes: FID/KID use all translated images
))

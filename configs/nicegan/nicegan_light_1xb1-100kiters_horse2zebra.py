# NICE-GAN (light, the paper's setting) on horse2zebra, 256 px, batch 1, 100k iters.
# Data: data/horse2zebra/{trainA,trainB,testA,testB}; A = horse, B = zebra.
_base_ = ['../_base_/nicegan_light_1xb1-100kiters.py']
# This data set's values and the keys they decide (model domains, key mapping, pipelines,
# data roots, FID/KID metrics, best checkpoint per direction by FID).
vars().update(__import__('runpy').run_path('{{ fileDirname }}/../_base_/config_helpers.py')[
    'unpaired_domains'](
    _base_,
    domain_a='horse', domain_b='zebra',
    data_root='data/horse2zebra',
    num_test_a=120, num_test_b=140,  # test-set sizes: FID/KID use all translated images
))

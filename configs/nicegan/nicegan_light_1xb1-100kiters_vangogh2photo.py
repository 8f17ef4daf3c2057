# NICE-GAN (light, the paper's setting) on vangogh2photo, 256 px, batch 1, 100k iters.
# Data: data/vangogh2photo/{trainA,trainB,testA,testB}; A = vangogh, B = photo.
_base_ = ['../_base_/nicegan_light_1xb1-100kiters.py']
# This data set's values and the keys they decide (model domains, key mapping, pipelines,
# data roots, FID/KID metrics, best checkpoint per direction by FID).
vars().update(__import__('runpy').run_path('{{ fileDirname }}/../_base_/config_helpers.py')[
    'unpaired_domains'](
    _base_,
    domain_a='vangogh', domain_b='photo',
    data_root='data/vangogh2photo',
    num_test_a=400, num_test_b=751,  # test-set sizes: FID/KID use all translated images
))

# tiny_h2z with the paper configs' FID + KID metrics for both directions, sized for a
# test set of 3 horses and 4 zebras.
from mmengine.config import read_base

with read_base():
    from .tiny_h2z import *

num_test_a, num_test_b = 3, 4
test_evaluator.metrics = [
    dict(type=metric, prefix=f'{name}-{src}-to-{tgt}', fake_nums=n_src, real_nums=n_tgt,
         real_key=f'img_{tgt}', fake_key=f'fake_{tgt}', inception_path=None,
         sample_model='orig', **extra)
    for src, tgt, n_src, n_tgt in (('horse', 'zebra', num_test_a, num_test_b),
                                   ('zebra', 'horse', num_test_b, num_test_a))
    for metric, name, extra in (('NICEGANTransFID', 'FID', {}),
                                ('NICEGANTransKID', 'KID', dict(num_subsets=10, subset_size=3)))
]

"""Facts about the official NICE-GAN code's files (alpc91/NICE-GAN-pytorch)."""

#: networks in an official ``<dataset>_params_*.pt``: generator of B / of A, discriminators
OFFICIAL_NETS = ('gen2B', 'gen2A', 'disA', 'disB')
#: stray buffers the official code's ``thop`` profiling leaves in its state dicts
THOP_SUFFIXES = ('total_ops', 'total_params')
#: the official optimizer (``NICE.py``): Adam for both groups, L2 weight decay 1e-4
#: (``foreach``: the same arithmetic in fewer calls, PyTorch's default on CUDA)
OFFICIAL_ADAM = dict(type='Adam', lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4,
                     foreach=True)

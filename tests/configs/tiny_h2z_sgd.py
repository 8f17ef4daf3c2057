# tiny_h2z with SGD: linear in the gradients, so a wrong gradient reduction across
# processes cannot hide behind Adam's normalisation.
_base_ = ['./tiny_h2z.py']
optim_wrapper = dict(
    generators=dict(optimizer=dict(_delete_=True, type='SGD', lr=0.002, weight_decay=1e-4)),
    discriminators=dict(optimizer=dict(_delete_=True, type='SGD', lr=0.002,
                                       weight_decay=1e-4)))

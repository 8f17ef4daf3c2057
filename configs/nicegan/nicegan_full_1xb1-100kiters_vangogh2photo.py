# NICE-GAN with the full (non-light) generator: the MLP reads the flattened 64x64x256
# features (276M parameters per generator, 97% in one Linear). Needs a GPU with
# >= 24 GB; the paper's numbers are for the light variant.
_base_ = ['./nicegan_light_1xb1-100kiters_vangogh2photo.py']
model = dict(generator=dict(light=False, img_size=256))

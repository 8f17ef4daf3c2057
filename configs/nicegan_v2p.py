# Short entry point: NICE-GAN (light, paper settings) on vangogh2photo.
# Full name: configs/nicegan/nicegan_light_1xb1-100kiters_vangogh2photo.py
_base_ = ['./nicegan/nicegan_light_1xb1-100kiters_vangogh2photo.py']

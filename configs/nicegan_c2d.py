# Short entry point: NICE-GAN (light, paper settings) on cat2dog.
# Full name: configs/nicegan/nicegan_light_1xb1-100kiters_cat2dog.py
_base_ = ['./nicegan/nicegan_light_1xb1-100kiters_cat2dog.py']

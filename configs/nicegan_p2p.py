# Short entry point: NICE-GAN (light, paper settings) on photo2portrait.
# Full name: configs/nicegan/nicegan_light_1xb1-100kiters_photo2portrait.py
_base_ = ['./nicegan/nicegan_light_1xb1-100kiters_photo2portrait.py']

# Short entry point: NICE-GAN (light, paper settings) on horse2zebra.
# Full name: configs/nicegan/nicegan_light_1xb1-100kiters_horse2zebra.py
_base_ = ['./nicegan/nicegan_light_1xb1-100kiters_horse2zebra.py']

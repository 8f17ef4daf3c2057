# Short entry point: NICE-GAN (light, paper settings) on summer2winter.
# Full name: configs/nicegan/nicegan_light_1xb1-100kiters_summer2winter.py
_base_ = ['./nicegan/nicegan_light_1xb1-100kiters_summer2winter.py']

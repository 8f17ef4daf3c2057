"""nicegan-mmagic: NICE-GAN as an OpenMMLab MMagic plugin."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'nicegan_plugin', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(name: str) -> list:
    with open(osp.join(HERE, 'requirements', name)) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith('#')]


setup(
    name='nicegan-mmagic',
    version=read_version(),
    description='NICE-GAN (Reusing Discriminators for Encoding, CVPR 2020) for MMagic',
    long_description=open(osp.join(HERE, 'README.md')).read() if osp.exists(
        osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['nicegan_plugin', 'nicegan_plugin.*']),
    python_requires='>=3.8',
    install_requires=read_requirements('runtime.txt'),
    extras_require={'tests': ['pytest', 'torch-fidelity', 'scipy']},
    license='MIT',
    zip_safe=False,
)

"""nicegan-mmagic: NICE-GAN as an OpenMMLab MMagic plugin.

A wheel (``pip install .``, ``pip wheel .``) carries, besides the package (its recipe configs
in ``nicegan_plugin/configs`` included), the project's ``configs/`` and ``tools/`` as package
data in OpenMMLab's ``.mim`` layout, ``nicegan_plugin/.mim/{configs,tools}``, as MMagic ships
its own: ``mim train nicegan_plugin configs/nicegan_h2z.py`` (with openmim) or
``python -m nicegan_plugin train configs/nicegan_h2z.py`` then train from a shipped config.
They are copied into the build folder, never into the source tree; an editable install
(``pip install -e .``) uses the checkout's folders instead.
"""
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
#: project folders a wheel carries under nicegan_plugin/.mim/
MIM_FOLDERS = ('configs', 'tools')


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'nicegan_plugin', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(name: str) -> list:
    with open(osp.join(HERE, 'requirements', name)) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith('#')]


class BuildWithMim(build_py):
    """``build_py`` that also copies :data:`MIM_FOLDERS` to ``nicegan_plugin/.mim/`` in the
    build folder (not for editable installs, which read the checkout)."""

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        for name in MIM_FOLDERS:
            target = osp.join(self.build_lib, 'nicegan_plugin', '.mim', name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(osp.join(HERE, name), target,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


setup(
    name='nicegan-mmagic',
    version=read_version(),
    description='NICE-GAN (Reusing Discriminators for Encoding, CVPR 2020) for MMagic',
    long_description=open(osp.join(HERE, 'README.md')).read() if osp.exists(
        osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['nicegan_plugin', 'nicegan_plugin.*']),
    # the recipes' bases (MMEngine read_base() configs in folders without __init__.py)
    package_data={'nicegan_plugin.configs': ['_base_/*.py', '_base_/*/*.py']},
    cmdclass={'build_py': BuildWithMim},
    python_requires='>=3.8',
    install_requires=read_requirements('runtime.txt'),
    extras_require={'tests': ['pytest', 'torch-fidelity', 'scipy']},
    license='MIT',
    zip_safe=False,
)

"""NICE-GAN (CVPR 2020, "Reusing Discriminators for Encoding") as an MMagic plugin.

Importing this package registers its models, losses, schedulers, wrappers, metrics
and hooks into MMagic's registries (scope ``mmagic``); the only change it makes to
another library is the checkpoint allow-list in :mod:`nicegan_plugin.compat`. Use it
from a config with::

    default_scope = 'mmagic'
    custom_imports = dict(imports=['nicegan_plugin'], allow_failed_imports=False)

Layers (imports point down only): ``utils`` < ``models`` < ``official``, ``datasets`` <
``inference``, ``evaluation`` < ``visualization``, ``deploy`` < ``engine`` < ``apis``,
``benchmarks``; see docs/architecture.md.
"""
import warnings

from . import compat
from .version import __version__

compat.apply_all()
with warnings.catch_warnings():
    # mmagic.models imports diffusers/timm/controlnet_aux, which print deprecation
    # notices about their own modules on import; they are not about this plugin.
    warnings.simplefilter('ignore', FutureWarning)
    warnings.simplefilter('ignore', DeprecationWarning)
    warnings.filterwarnings('ignore', message='Overwriting .* in registry')
    warnings.filterwarnings('ignore', message="The module 'mediapipe' is not installed")
    import mmagic.models  # noqa: F401

from . import datasets, engine, evaluation, models  # noqa: E402  (registration side effects)
from .deprecated import register_aliases  # noqa: E402

register_aliases()

__all__ = ['__version__', 'compat', 'datasets', 'engine', 'evaluation', 'models']

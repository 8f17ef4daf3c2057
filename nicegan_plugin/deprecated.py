"""Registry names of earlier releases, kept as deprecated aliases.

Every registered class of the plugin now carries the ``NICEGAN`` prefix (one prefix,
so that none of them can collide with a present or future MMagic name in the shared
``mmagic`` scope). Configs in the wild may still say the old names; they build the
new classes and log a deprecation warning once. An old name that MMagic itself has
registered meanwhile is left to MMagic.
"""
from typing import Callable, Set

from mmagic.registry import METRICS, MODELS
from mmengine.logging import print_log

from .evaluation import NICEGANTransFID, NICEGANTransKID
from .models import NICEGANAdversarialLoss, NICEGANDiscriminator, NICEGANGenerator

#: old name -> (registry, new class)
ALIASES = {
    'NICEGenerator': (MODELS, NICEGANGenerator),
    'NICEDiscriminator': (MODELS, NICEGANDiscriminator),
    'NICEAdversarialLoss': (MODELS, NICEGANAdversarialLoss),
    'OfflineTransFID': (METRICS, NICEGANTransFID),
    'TransKID': (METRICS, NICEGANTransKID),
}
_WARNED: Set[str] = set()


def _alias(old: str, new_cls: type) -> Callable:
    def build(*args, **kwargs):
        if old not in _WARNED:
            _WARNED.add(old)
            print_log(f"type='{old}' is deprecated and will be removed; use "
                      f"type='{new_cls.__name__}'", logger='current', level=30)
        return new_cls(*args, **kwargs)
    build.__name__ = build.__qualname__ = old
    build.__doc__ = f'Deprecated alias of :class:`{new_cls.__name__}`.'
    return build


def register_aliases() -> None:
    for old, (registry, new_cls) in ALIASES.items():
        if old not in registry.module_dict:
            registry.register_module(name=old, module=_alias(old, new_cls))

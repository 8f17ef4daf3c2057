"""Interoperability with the official NICE-GAN code: checkpoint conversion both ways and
the float64 parity check against the official outputs."""
from .constants import OFFICIAL_ADAM, OFFICIAL_NETS, THOP_SUFFIXES
from .converter import ConversionError, official_to_plugin, plugin_to_official

__all__ = ['OFFICIAL_ADAM', 'OFFICIAL_NETS', 'THOP_SUFFIXES', 'ConversionError',
           'official_to_plugin', 'plugin_to_official']

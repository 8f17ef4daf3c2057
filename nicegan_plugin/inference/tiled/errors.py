"""The errors of tiled translation, and the byte sizes their messages quote."""


class TilingError(ValueError):
    """An image, tile size or model that tiled translation cannot take (one-line message)."""


class ImageTooLargeError(TilingError):
    """One image does not fit the memory budget, the free disk or the free host memory:
    a folder translation skips it and goes on (other images may fit)."""


def format_bytes(n: float) -> str:
    """``n`` bytes in the largest binary unit that keeps it >= 1 (``'18.0 MiB'``,
    ``'1.0 MiB'``, ``'3.2 GiB'``, ``'512 B'``): sizes a message compares stay
    distinguishable, unlike a fixed unit (0.0 GiB vs 0.0 GiB)."""
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(n) < 1024:
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1024
    return f'{n:.1f} TiB'

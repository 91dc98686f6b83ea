"""Sizes in bytes written as text: ``65536``, ``"64KiB"``, ``"1MiB"``, ``"500kB"``."""

from __future__ import annotations

import re

_SIZE = re.compile(r"(\d+)\s*([a-z]*)")
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
#: What ``parse_size`` accepts, quoted in its errors.
SIZE_FORMS = (
    "a number of bytes or text like '64KiB', '1MiB', '500kB' "
    "(units B, kB, KiB, MB, MiB, GB, GiB)"
)


def parse_size(value: int | str, *, what: str = "size") -> int:
    """A number of bytes from an int or text with a unit (``"64KiB"``, ``"2 GiB"``).

    :raises ValueError: naming ``what``, the value and the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid {what} {value!r}: expected {SIZE_FORMS}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid {what} {value!r}: it must not be negative")
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip().lower())
        if match and match.group(2) in _UNITS:
            return int(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError(f"invalid {what} {value!r}: expected {SIZE_FORMS}")

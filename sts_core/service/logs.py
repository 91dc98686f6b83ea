"""Log levels by name (``LOG_LEVEL``, ``[logging] level``) and the text format."""

from __future__ import annotations

import logging

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def parse_level(value: str, *, origin: str = "LOG_LEVEL") -> int:
    """The ``logging`` level named ``value`` (any case, spaces ignored).

    :raises ValueError: naming where the value came from and the valid levels.
    """
    name = value.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"invalid {origin} {value!r}: expected one of {', '.join(LEVELS)}")
    return int(getattr(logging, name))

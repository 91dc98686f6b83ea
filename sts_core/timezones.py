"""Time zones by IANA name, and the machine's own zone."""

from __future__ import annotations

import os
from datetime import UTC, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .suggest import did_you_mean


def resolve_timezone(value: str | tzinfo | None) -> tzinfo:
    """A ``tzinfo`` for an IANA name (``"Europe/Berlin"``), a tzinfo, or ``None`` (local).

    :raises ValueError: naming the zone when it is unknown.
    """
    if value is None:
        return local_timezone()
    if isinstance(value, tzinfo):
        return value
    name = value.strip()
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        from zoneinfo import available_timezones  # reads the zone database: only on error

        raise ValueError(
            f"unknown time zone {value!r}{did_you_mean(name, available_timezones())}: "
            f"expected an IANA name such as 'Europe/Berlin', 'America/New_York' or 'UTC'"
        ) from None


@lru_cache(maxsize=1)
def local_timezone() -> tzinfo:
    """The machine's zone as a ``ZoneInfo`` (so daylight saving is known), else UTC."""
    key = os.environ.get("TZ", "").lstrip(":")
    if not key:
        try:
            target = str(Path("/etc/localtime").resolve())
        except OSError:
            target = ""
        _, _, key = target.partition("zoneinfo/")
    if key:
        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC

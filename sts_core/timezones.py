"""Time zones by IANA name, and the machine's own zone."""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from datetime import UTC, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .suggest import did_you_mean

#: What to do when the machine's zone cannot be determined, quoted in the warning.
SET_A_ZONE = (
    "set [scheduler] timezone (e.g. Europe/Berlin) or TZ to an IANA name such as "
    "TZ=Europe/Berlin"
)


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


@dataclass(frozen=True)
class LocalZone:
    """The machine's zone, and why it is UTC when it could not be determined."""

    zone: tzinfo
    #: Why the machine's zone is not known (``zone`` is then UTC), or a doubt about it.
    problem: str | None = None

    @property
    def name(self) -> str:
        """``Europe/Berlin``; ``local`` for a copied ``/etc/localtime``; a POSIX TZ string."""
        return zone_label(self.zone)


def zone_label(zone: tzinfo) -> str:
    """A zone's IANA name when it has one (``Europe/Berlin``), else its ``str``."""
    return str(getattr(zone, "key", None) or zone)


def local_timezone() -> tzinfo:
    """The machine's zone (with its daylight saving rules), else UTC; see ``local_zone``."""
    return local_zone().zone


@lru_cache(maxsize=1)
def local_zone() -> LocalZone:
    """The machine's zone as tzlocal finds it: ``TZ`` (an IANA name, ``:/path/to/zone``,
    or a POSIX TZ string such as ``CET-1CEST,M3.5.0,M10.5.0/3``), then the system's
    configuration (``/etc/localtime``, linked or copied, ``/etc/timezone``...)."""
    import tzlocal  # not at import time: it is only needed once a scheduler is made

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            zone: tzinfo = tzlocal.reload_localzone()
        except (ZoneInfoNotFoundError, ValueError, OSError) as error:
            return _zone_from_posix_tz(os.environ.get("TZ", ""), error)
    doubts = [str(warning.message) for warning in caught]
    if any("defaulting to UTC" in doubt for doubt in doubts):
        return LocalZone(
            UTC, f"the machine's time zone could not be determined: using UTC; {SET_A_ZONE}"
        )
    if doubts:
        return LocalZone(zone, f"the machine's time zone is in doubt: {' '.join(doubts)}")
    return LocalZone(zone)


def _zone_from_posix_tz(value: str, error: Exception) -> LocalZone:
    """A zone for a POSIX TZ string, which tzlocal does not read; UTC and a problem when
    ``value`` is not one either."""
    text = value.removeprefix(":").strip()
    if text:
        try:
            return LocalZone(ZoneInfo.from_file(io.BytesIO(_tzif_of(text)), key=text))
        except ValueError:
            reason = (
                f"TZ={value!r} is neither an IANA zone name, a zone file, nor a POSIX TZ "
                f"string such as CET-1CEST,M3.5.0,M10.5.0/3"
            )
    else:
        reason = " ".join(str(error).split())
    return LocalZone(
        UTC,
        f"the machine's time zone could not be determined ({reason}): using UTC; " f"{SET_A_ZONE}",
    )


def _tzif_of(posix_tz: str) -> bytes:
    """A TZif file (RFC 8536) with no transitions, whose footer is ``posix_tz``: the
    standard library's zoneinfo then reads and applies the POSIX rules for all times."""
    counts = struct.pack(">6l", 0, 0, 0, 0, 1, 4)  # no transitions; one type, "UTC\0"
    header = b"TZif2" + bytes(15) + counts
    data = struct.pack(">lBB", 0, 0, 0) + b"UTC\0"
    return header + data + header + data + b"\n" + posix_tz.encode() + b"\n"

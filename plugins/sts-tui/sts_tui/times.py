"""Which zone the UI writes times in: the scheduler's, each job's own, or UTC (``z``).

Every time on a screen is in the one zone the header names; in "each job's zone" a time
about a job is in that job's zone and carries the zone's abbreviation (``03:30 CEST``),
since the rows differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import format as fmt

#: The modes ``z`` cycles through, in order.
MODES = ("scheduler", "job", "utc")


def zone_named(name: str | None) -> tzinfo | None:
    """The zone a protocol answer names (``Europe/Berlin``, ``UTC``, ``UTC+01:00``), or
    ``None`` when this machine does not know it."""
    if not name:
        return None
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass
class TimeZones:
    """The UI's zone setting.

    :param mode: one of :data:`MODES`.
    :param scheduler_zone: the scheduler's zone (from ``hello``), UTC until connected.
    """

    mode: str = "scheduler"
    scheduler_name: str = "UTC"
    scheduler_zone: tzinfo = UTC
    _job_zones: dict[str, tzinfo | None] = field(default_factory=dict)

    def cycle(self) -> str:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        return self.mode

    def set_scheduler_zone(self, name: str | None, override: tzinfo | None = None) -> None:
        zone = override or zone_named(name)
        self.scheduler_zone = zone or UTC
        self.scheduler_name = str(getattr(zone, "key", None) or zone) if zone is not None else "UTC"

    def zone(self, job_zone: str | None = None) -> tzinfo:
        """The zone a time about a job (or about nothing in particular) is written in."""
        if self.mode == "utc":
            return UTC
        if self.mode == "job" and job_zone:
            if job_zone not in self._job_zones:
                self._job_zones[job_zone] = zone_named(job_zone)
            return self._job_zones[job_zone] or self.scheduler_zone
        return self.scheduler_zone

    @property
    def tagged(self) -> bool:
        """Whether each time carries its zone (the rows' zones differ)."""
        return self.mode == "job"

    def clock(self, instant: datetime | None, job_zone: str | None = None) -> str:
        """``15:04:05`` (``15:04:05 CEST`` in job mode)."""
        if instant is None:
            return "—"
        local = instant.astimezone(self.zone(job_zone))
        text = local.strftime("%H:%M:%S")
        return f"{text} {local.strftime('%Z')}" if self.tagged else text

    def short(self, instant: datetime | None, now: datetime, job_zone: str | None = None) -> str:
        return fmt.short_time(instant, now, self.zone(job_zone), with_zone=self.tagged)

    def label(self) -> str:
        """What the header says: ``times: UTC``."""
        if self.mode == "utc":
            return "times: UTC"
        if self.mode == "job":
            return "times: each job's zone"
        return f"times: {self.scheduler_name}"

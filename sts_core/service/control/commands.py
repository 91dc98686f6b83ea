"""The control commands: what each request does to (or reads from) the scheduler.

Handlers run on the scheduler's loop, so they use its public API directly.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from ... import __version__
from ...records import RunRecord
from ...store import DurableStore
from ...timezones import zone_label
from ..reload.registry import reloader_of
from .protocol import (
    COMMANDS,
    EVENTS,
    FEATURES,
    PROTOCOL_VERSION,
    ControlError,
    history_rows,
    instant,
    record_to_dict,
)
from .stats import SchedulerStats

if TYPE_CHECKING:
    from ...scheduler import Job, TaskScheduler

MAX_PLAN = 1000
MAX_HISTORY = 10_000
#: The most job rows one page of ``jobs`` holds.
MAX_PAGE = 10_000
MAX_OFFSET = 10**9


def job_row(
    job: Job, stats: SchedulerStats, default_zone: tzinfo, *, ending: int = 0
) -> dict[str, Any]:
    """A job as ``jobs`` lists it and events carry it.

    :param ending: runs that are finishing but still counted in ``job.running``.
    """
    counts = stats.jobs.get(job.name)
    return {
        "name": job.name,
        "schedule": job.schedule,
        "timezone": zone_label(job.timezone or default_zone),
        "next_fire": instant(job.next_fire),
        "last_fire": instant(job.last_fire),
        "paused": job.paused,
        "paused_reason": job.paused_reason,
        "running": max(0, len(job.running) - ending) if job.running else 0,
        "last_outcome": counts.last_outcome if counts else None,
        "succeeded": counts.succeeded if counts else 0,
        "failed": counts.failed if counts else 0,
        "mean_duration": counts.mean_duration if counts else None,
        "last_duration": counts.last_duration if counts else None,
        "revision": stats.revision,
    }


class _Arguments:
    """A request's arguments, read with type checks that name the command and the key."""

    def __init__(self, command: str, values: object) -> None:
        if not isinstance(values, dict):
            raise ControlError("bad_request", f"the arguments of {command!r} must be an object")
        self.command = command
        self.values: dict[str, Any] = values

    def _wrong(self, key: str, expected: str) -> ControlError:
        return ControlError(
            "bad_argument",
            f"the argument {key!r} of {self.command!r} must be {expected}, "
            f"got {self.values[key]!r}",
        )

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        if key not in self.values or self.values[key] is None:
            if required:
                raise ControlError(
                    "bad_argument", f"the command {self.command!r} needs the argument {key!r}"
                )
            return default
        value = self.values[key]
        if not isinstance(value, str) or not value:
            raise self._wrong(key, "a non-empty string")
        return value

    def whole(self, key: str, default: int, low: int, high: int) -> int:
        value = self.values.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._wrong(key, f"a whole number from {low} to {high}")
        return value

    def flag(self, key: str) -> bool:
        value = self.values.get(key, False)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def instant(self, key: str) -> datetime | None:
        text = self.text(key)
        if text is None:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise self._wrong(key, "an ISO 8601 instant such as '2027-01-01T09:00+01:00'") from None
        if value.tzinfo is None:
            raise self._wrong(key, "an instant with an offset, such as '2027-01-01T09:00+01:00'")
        return value


class ControlCommands:
    """Answers every command except the per-connection ones (``subscribe``)."""

    def __init__(self, scheduler: TaskScheduler, stats: SchedulerStats) -> None:
        self.scheduler = scheduler
        self.stats = stats

    async def handle(self, command: str, raw_arguments: object) -> dict[str, Any]:
        arguments = _Arguments(command, raw_arguments)
        handler = getattr(self, f"_{command}", None)
        if command not in COMMANDS or handler is None:
            raise ControlError(
                "unknown_command",
                f"unknown command {command!r}: expected one of {', '.join(COMMANDS)}",
            )
        result: dict[str, Any] = await handler(arguments)
        return result

    def _job(self, arguments: _Arguments) -> Job:
        name = arguments.text("job", required=True)
        assert name is not None
        try:
            return self.scheduler.get_job(name)
        except KeyError as error:
            raise ControlError("unknown_job", str(error.args[0])) from None

    async def _hello(self, arguments: _Arguments) -> dict[str, Any]:
        wanted = arguments.whole("protocol", PROTOCOL_VERSION, 1, 1_000_000)
        if wanted != PROTOCOL_VERSION:
            raise ControlError(
                "unsupported_protocol",
                f"this scheduler speaks control protocol {PROTOCOL_VERSION}, "
                f"the client asked for {wanted}",
            )
        scheduler = self.scheduler
        return {
            "protocol": PROTOCOL_VERSION,
            "server": "sts",
            "version": __version__,
            "scheduler": scheduler.name,
            "timezone": zone_label(scheduler.timezone),
            "started_at": instant(scheduler.started_at),
            "commands": list(COMMANDS),
            "events": list(EVENTS),
            # What a client may ask for beyond protocol 1's first form (all additions).
            "features": list(FEATURES),
        }

    async def _jobs(self, arguments: _Arguments) -> dict[str, Any]:
        name = arguments.text("job")
        if name is not None:
            return {"jobs": [job_row(self._job(arguments), self.stats, self.scheduler.timezone)]}
        jobs = self.scheduler.jobs
        # A page: a client shows its first screen before the 10,000th row is even encoded,
        # and the scheduler's loop never builds one answer of megabytes at once.
        offset = arguments.whole("offset", 0, 0, MAX_OFFSET)
        limit = arguments.whole("limit", 0, 1, MAX_PAGE) if "limit" in arguments.values else None
        page = jobs[offset:] if limit is None else jobs[offset : offset + limit]
        return {
            "jobs": [job_row(job, self.stats, self.scheduler.timezone) for job in page],
            "offset": offset,
            "total": len(jobs),
            "generation": self.stats.generation,
        }

    async def _history(self, arguments: _Arguments) -> dict[str, Any]:
        job = arguments.text("job")
        if job is not None:
            self._job(arguments)
        limit = arguments.whole("limit", 50, 1, MAX_HISTORY)
        failed_only = arguments.flag("failed_only")
        store = self.scheduler.store
        if isinstance(store, DurableStore):
            # Off the loop: a file another process holds locked must not stall the fires.
            return {
                "runs": await asyncio.to_thread(
                    history_rows, store, job, limit=limit, failed_only=failed_only
                )
            }
        # A memory store is only safe to read on the loop, and never waits.
        return {"runs": history_rows(store, job, limit=limit, failed_only=failed_only)}

    async def _plan(self, arguments: _Arguments) -> dict[str, Any]:
        job = self._job(arguments)
        count = arguments.whole("count", 10, 1, MAX_PLAN)
        since = arguments.instant("since") or self.scheduler.clock.now()
        zone = job.timezone or self.scheduler.timezone
        try:
            fires = _planned_fires(job.upcoming(since, count), since, zone)
            since_utc = instant(since)
        except (OverflowError, ValueError):
            # datetime ends at 9999-12-31: a schedule cannot be followed past the calendar.
            raise ControlError(
                "out_of_range",
                f"no fire time can be computed after {since.isoformat()}: the calendar ends "
                f"at 9999-12-31; give an earlier 'since'",
            ) from None
        return {
            "job": job.name,
            "schedule": job.schedule,
            "timezone": zone_label(zone),
            "since": since_utc,
            "fires": fires,
        }

    async def _trigger(self, arguments: _Arguments) -> dict[str, Any]:
        job = self._job(arguments)
        wait = arguments.flag("wait")
        future = self.scheduler.run_now(job)
        if not wait:
            return {"job": job.name, "started": True}
        record: RunRecord = await asyncio.wrap_future(future)
        return {"job": job.name, "started": True, "run": record_to_dict(record)}

    async def _pause(self, arguments: _Arguments) -> dict[str, Any]:
        job = self._job(arguments)
        self.scheduler.pause(job)
        return {"job": job_row(job, self.stats, self.scheduler.timezone)}

    async def _resume(self, arguments: _Arguments) -> dict[str, Any]:
        job = self._job(arguments)
        self.scheduler.resume(job)
        return {"job": job_row(job, self.stats, self.scheduler.timezone)}

    async def _remove(self, arguments: _Arguments) -> dict[str, Any]:
        job = self._job(arguments)
        self.scheduler.remove_job(job)
        self.stats.forget(job.name)
        return {"job": job.name, "removed": True}

    async def _reload(self, arguments: _Arguments) -> dict[str, Any]:
        reloader = reloader_of(self.scheduler)
        if reloader is None:
            raise ControlError(
                "not_reloadable",
                f"the scheduler {self.scheduler.name!r} was not built from a configuration "
                f"(sts run module:object): it has nothing to read again; restart it instead",
            )
        result = await reloader.reload("sts reload")
        return result.to_dict()

    async def _stats(self, arguments: _Arguments) -> dict[str, Any]:
        scheduler = self.scheduler
        now = scheduler.clock.now()
        started = scheduler.started_at
        return {
            "scheduler": scheduler.name,
            "now": instant(now),
            "started_at": instant(started),
            "uptime": (now - started).total_seconds() if started else 0.0,
            "jobs": len(scheduler.jobs),
            "runs_in_flight": scheduler.runs_in_flight,
            "fires_last_minute": self.stats.fires_last_minute(now.timestamp()),
            "lateness_p99": self.stats.lateness_p99(),
            "catch_up_runs": self.stats.catch_up_runs,
            "lateness_recent": self.stats.recent_lateness(),
        }


def _planned_fires(upcoming: list[datetime], since: datetime, zone: tzinfo) -> list[dict[str, Any]]:
    """The fires as ``plan`` shows them: UTC, local time, and where the offset changes."""
    fires: list[dict[str, Any]] = []
    previous_offset = since.astimezone(zone).utcoffset()
    for fire in upcoming:
        local = fire.astimezone(zone)
        offset = local.utcoffset()
        fires.append(
            {
                "utc": instant(fire),
                "local": local.isoformat(),
                "dst": bool(local.dst()),
                "offset_changed": offset != previous_offset,
            }
        )
        previous_offset = offset
    return fires

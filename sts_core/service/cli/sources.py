"""Where ``jobs``, ``plan`` and ``history`` get their facts: the running scheduler (over
its control socket) or, when none runs, the config and the state store read directly.

Both give the same shapes as the control protocol (``docs/control-protocol.md``): job rows
and run records as dicts with instants in ISO 8601, so one renderer serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from ...job import first_fire_within, upcoming_fires
from ...timezones import resolve_timezone, zone_label
from ..config.jobs import JobOutline
from .context import CommandContext
from .show import zone_named

if TYPE_CHECKING:
    from ...store import StateStore
    from ...triggers import Trigger


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class Source(Protocol):
    #: "running" or "stored": where the facts came from, for the user.
    kind: str

    def jobs(self) -> list[dict[str, Any]]: ...

    def plan(self, row: dict[str, Any], count: int, since: datetime | None) -> list[datetime]: ...

    def history(self, job: str | None, limit: int, failed_only: bool) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class RunningSource:
    """Asks the running scheduler."""

    kind = "running"

    def __init__(self, context: CommandContext, jobs: list[dict[str, Any]]) -> None:
        self.context = context
        self._jobs = jobs

    def jobs(self) -> list[dict[str, Any]]:
        return self._jobs

    def plan(self, row: dict[str, Any], count: int, since: datetime | None) -> list[datetime]:
        first: list[datetime] = []
        arguments: dict[str, Any] = {"job": row["name"], "count": count}
        if since is not None:
            arguments["since"] = since.isoformat()
        elif row.get("next_fire") and not row.get("paused"):
            # The job's own next fire comes first: for an interval it is not "now + interval".
            first = [datetime.fromisoformat(row["next_fire"])]
            arguments.update(count=count - 1, since=row["next_fire"])
        if arguments["count"] < 1:
            return first
        answer = self.context.must_ask("plan", **arguments)
        return first + [datetime.fromisoformat(fire["utc"]) for fire in answer["fires"]]

    def history(self, job: str | None, limit: int, failed_only: bool) -> list[dict[str, Any]]:
        arguments: dict[str, Any] = {"limit": limit, "failed_only": failed_only}
        if job is not None:
            arguments["job"] = job
        runs: list[dict[str, Any]] = self.context.must_ask("history", **arguments)["runs"]
        return runs

    def close(self) -> None:
        pass


@dataclass
class _OfflineJob:
    name: str
    schedule: str
    zone: tzinfo
    trigger: Trigger | None
    start: datetime | None
    end: datetime | None
    next_fire: datetime | None
    last_fire: datetime | None
    paused: bool


class StoredSource:
    """Reads the jobs the config declares, and what the state store kept of them and of
    jobs it still holds (a scheduler built in Python, ``sts demo``).

    The job sections are read as text: no task is built, so no user code is imported (a
    ``type = python`` job whose module cannot be imported here still shows its history).
    """

    kind = "stored"

    def __init__(self, context: CommandContext) -> None:
        from ...store import MemoryStore

        self.context = context
        config = context.config
        self.plugins = config.plugins
        self.timezone = resolve_timezone(config.timezone)
        outlines = config.job_outlines()
        self.store: StateStore = context.offline_store() or MemoryStore()
        self._jobs = self._collect(outlines)

    def _collect(self, outlines: list[JobOutline]) -> dict[str, _OfflineJob]:
        stored = self.store.load_jobs()
        jobs: dict[str, _OfflineJob] = {}
        for outline in outlines:
            name, trigger, bounds = outline.name, outline.trigger, outline.policy
            state = stored.get(name)
            schedule = str(trigger)
            same = state is not None and state.schedule == schedule
            next_fire = (
                None
                if bounds.paused
                else first_fire_within(trigger, self.now(), bounds.start, bounds.end)
            )
            jobs[name] = _OfflineJob(
                name,
                schedule,
                bounds.timezone or self.timezone,
                trigger,
                bounds.start,
                bounds.end,
                state.next_fire if state is not None and same else next_fire,
                state.last_fire if state is not None else None,
                bounds.paused or (state is not None and state.paused),
            )
        for name, state in stored.items():
            if name in jobs:
                continue
            made = self._trigger(state.schedule, self.timezone, name)
            zone = getattr(made, "timezone", None) or self.timezone
            jobs[name] = _OfflineJob(
                name,
                state.schedule,
                zone,
                made,
                None,
                None,
                state.next_fire,
                state.last_fire,
                state.paused,
            )
        return jobs

    def _trigger(self, text: str, zone: tzinfo, name: str) -> Trigger | None:
        try:
            return self.plugins.make_trigger(text, timezone=zone, job_name=name)
        except Exception:  # a schedule a Python function made, or a kind not installed here
            return None

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def jobs(self) -> list[dict[str, Any]]:
        rows = []
        for job in self._jobs.values():
            last = self.store.history(job.name, limit=1)
            rows.append(
                {
                    "name": job.name,
                    "schedule": job.schedule,
                    "timezone": zone_label(job.zone),
                    "next_fire": _iso(job.next_fire),
                    "last_fire": _iso(job.last_fire),
                    "paused": job.paused,
                    "running": 0,
                    "last_outcome": str(last[0].outcome) if last else None,
                }
            )
        return rows

    def plan(self, row: dict[str, Any], count: int, since: datetime | None) -> list[datetime]:
        job = self._jobs[row["name"]]
        fires: list[datetime] = []
        if job.trigger is None:
            return fires
        if since is None:
            since = self.now()
            if job.next_fire is not None and job.next_fire > since and not job.paused:
                fires.append(job.next_fire)
                since = job.next_fire
        return fires + upcoming_fires(job.trigger, since, count - len(fires), job.start, job.end)

    def history(self, job: str | None, limit: int, failed_only: bool) -> list[dict[str, Any]]:
        from ..control.protocol import history_rows

        return history_rows(self.store, job, limit=limit, failed_only=failed_only)

    def close(self) -> None:
        self.store.close()


def open_source(context: CommandContext) -> Source:
    """The running scheduler when one answers, else the stored state."""
    answer = context.ask("jobs")
    if answer is not None:
        return RunningSource(context, answer["jobs"])
    return StoredSource(context)


def zone_of(row: dict[str, Any]) -> tzinfo:
    return zone_named(row.get("timezone"))

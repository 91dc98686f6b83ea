"""The facts of a log line as fields (``extra=``), so that a JSON sink carries ``job``,
``run_id``, ``attempt``, ``outcome``, ``duration`` and ``fire_time`` as keys a log
collector can query, not only inside the message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .records import RunContext, RunRecord


def run_started_fields(context: RunContext) -> dict[str, Any]:
    """The fields of a ``run started`` line."""
    return {
        "event": "run_started",
        "job": context.job,
        "run_id": context.run_id,
        "attempt": context.attempt,
        "fire_time": context.fire_time.isoformat(),
        "manual": context.manual,
    }


def run_record_fields(record: RunRecord, event: str = "run_finished") -> dict[str, Any]:
    """The fields of a line about a finished run, or a missed or skipped fire."""
    fields: dict[str, Any] = {
        "event": event,
        "job": record.job,
        "run_id": record.run_id,
        "attempt": record.attempt,
        "outcome": str(record.outcome),
        "duration": record.duration,
        "fire_time": record.fire_time.isoformat(),
    }
    if record.error:
        fields["error"] = record.error
    if record.retry_at is not None:
        fields["retry_at"] = record.retry_at.isoformat()
    if record.missed_count:
        fields["missed_count"] = record.missed_count
    return fields


def job_fields(event: str, job: str, **facts: Any) -> dict[str, Any]:
    """The fields of a line about one job that is no run (a fire computed, a misfire)."""
    return {"event": event, "job": job, **facts}


#: A debug line: the arguments of ``logger.debug`` (the message and its arguments), and
#: its fields for ``extra=``.
DebugLine = tuple[tuple[Any, ...], dict[str, Any]]


def next_fire_line(job: str, fire: datetime | None, paused: bool) -> DebugLine:
    """The trigger's decision: when the job fires next (or that it never does)."""
    if fire is None:
        return ("next fire: job=%s none (its trigger has ended)", job), job_fields(
            "next_fire", job, next_fire=None
        )
    when = fire.isoformat()
    state = " (paused)" if paused else ""
    fields = job_fields("next_fire", job, next_fire=when, paused=paused)
    return ("next fire: job=%s at %s%s", job, when, state), fields


def fire_due_line(job: str, fire: datetime, now: float) -> DebugLine:
    """A fire the loop found due, and how late it is."""
    late = now - fire.timestamp()
    fields = job_fields("fire_due", job, fire_time=fire.isoformat(), late=late)
    return ("fire due: job=%s fire_time=%s late=%.3fs", job, fire.isoformat(), late), fields


def misfire_line(
    job: str, due: int, missed: int, grace: float | None, coalesce: bool, runs: int
) -> DebugLine:
    """The misfire rules' decision about fires found due together, or late."""
    grace_text = "none" if grace is None else f"{grace:g}s"
    fields = job_fields(
        "misfire_decision",
        job,
        due=due,
        missed=missed,
        misfire_grace=grace,
        coalesce=coalesce,
        runs=runs,
    )
    message = (
        "misfire decision: job=%s %d fire(s) due, %d missed (misfire_grace %s), "
        "coalesce=%s: %d run(s) start"
    )
    return (message, job, due, missed, grace_text, coalesce, runs), fields

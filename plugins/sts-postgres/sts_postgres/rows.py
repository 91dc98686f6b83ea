"""Records and job states to and from the columns of the store's statements: each write
kind sends whole arrays (``unnest``), one statement per batch, not one per row."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sts

#: Outcomes that count against the failed-history limit, as the core's stores count them.
FAILED_OUTCOMES = frozenset(
    {sts.Outcome.FAILED, sts.Outcome.TIMED_OUT, sts.Outcome.INTERRUPTED, sts.Outcome.MISSED}
)
#: Records of fires that did not run: they take the fire's claim, so they are kept once.
NOT_RUN_OUTCOMES = frozenset({sts.Outcome.MISSED, sts.Outcome.SKIPPED})


def new_record_id() -> str:
    """An id for a record the store makes itself (interrupted, unclaimable): 16 hex digits
    like the engine's run ids."""
    return os.urandom(8).hex()


def job_columns(states: Sequence[sts.JobState]) -> dict[str, list[Any]]:
    return {
        "names": [state.name for state in states],
        "next_fires": [state.next_fire for state in states],
        "last_fires": [state.last_fire for state in states],
        "paused": [state.paused for state in states],
        "schedules": [state.schedule for state in states],
        "paused_reasons": [state.paused_reason for state in states],
    }


def started_columns(runs: Sequence[sts.RunContext]) -> dict[str, list[Any]]:
    return {
        "run_ids": [run.run_id for run in runs],
        "attempts": [run.attempt for run in runs],
        "jobs": [run.job for run in runs],
        "fire_times": [run.fire_time for run in runs],
        "started": [run.started_at for run in runs],
        "manual": [run.manual for run in runs],
    }


def record_columns(records: Sequence[tuple[sts.RunRecord, str]]) -> dict[str, list[Any]]:
    """Columns of ``(record, replica)`` pairs."""
    return {
        "run_ids": [record.run_id for record, _ in records],
        "jobs": [record.job for record, _ in records],
        "fire_times": [record.fire_time for record, _ in records],
        "outcomes": [str(record.outcome) for record, _ in records],
        "failed": [record.outcome in FAILED_OUTCOMES for record, _ in records],
        "attempts": [record.attempt for record, _ in records],
        "started": [record.started_at for record, _ in records],
        "finished": [record.finished_at for record, _ in records],
        "errors": [record.error for record, _ in records],
        "tracebacks": [record.traceback for record, _ in records],
        "retry_at": [record.retry_at for record, _ in records],
        "manual": [record.manual for record, _ in records],
        "missed": [record.missed_count for record, _ in records],
        "outputs": [json.dumps(record.output) if record.output else None for record, _ in records],
        "replicas": [replica for _, replica in records],
    }


def record_from_row(row: Sequence[Any]) -> sts.RunRecord:
    (run_id, job, fire_time, outcome, _failed, attempt, started_at, finished_at, error,
     trace, retry_at, manual, missed_count, output, _replica) = row  # fmt: skip
    return sts.RunRecord(
        run_id=run_id,
        job=job,
        fire_time=fire_time,
        outcome=sts.Outcome(outcome),
        attempt=attempt,
        started_at=started_at,
        finished_at=finished_at,
        error=error,
        traceback=trace,
        retry_at=retry_at,
        manual=manual,
        missed_count=missed_count,
        output=dict(output) if output else {},
    )


def interrupted(
    run_id: str,
    job: str,
    fire_time: datetime,
    attempt: int,
    started_at: datetime | None,
    manual: bool,
    why: str,
) -> sts.RunRecord:
    return sts.RunRecord(
        run_id=run_id,
        job=job,
        fire_time=fire_time,
        outcome=sts.Outcome.INTERRUPTED,
        attempt=attempt,
        started_at=started_at,
        error=why,
        manual=manual,
    )

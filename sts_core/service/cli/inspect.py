"""``sts jobs``, ``sts plan`` and ``sts history``: read-only views of a scheduler."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, tzinfo
from typing import Any

from ..printable import printable
from .context import CommandContext
from .errors import OK, CommandError
from .show import (
    duration_text,
    error_width,
    instant_text,
    one_line,
    print_json,
    table,
    zone_named,
)
from .sources import Source, open_source, zone_of

#: As many runs as a scheduler answers for at once (the control protocol's own bound).
MAX_RUNS = 10_000

NO_JOBS_HINT = (
    "no jobs: declare them as [job:NAME] sections in the config (see `sts config`), "
    "or try `sts demo`"
)


def _note_source(source: Source, context: CommandContext) -> None:
    if source.kind == "stored":
        print(
            f"(scheduler {context.scheduler_name!r} is not running: showing the config "
            f"and its stored state)",
            file=sys.stderr,
        )


def _pick(rows: list[dict[str, Any]], job: str | None) -> list[dict[str, Any]]:
    if job is None:
        return rows
    chosen = [row for row in rows if row["name"] == job]
    if not chosen:
        names = ", ".join(row["name"] for row in rows) or "none"
        raise CommandError(f"no job named {job!r}; known: {names}")
    return chosen


def _state(row: dict[str, Any]) -> str:
    if row.get("running"):
        return "running"
    if not row.get("paused"):
        return ""
    # The last column: a reason (STS set the job aside) is shown on one line, in full.
    reason = row.get("paused_reason")
    return f"paused: {one_line(reason, 200)}" if reason else "paused"


def _next_fire(row: dict[str, Any], now: datetime) -> str:
    if row.get("paused"):
        return "-"
    text = instant_text(row.get("next_fire"), zone_of(row))
    due = row.get("next_fire") and datetime.fromisoformat(row["next_fire"]) < now
    # A stopped scheduler's next fire passes; its misfire policy decides at the next start.
    return f"{text} (overdue)" if due else text


def show_jobs(args: argparse.Namespace) -> int:
    context = CommandContext(args)
    source = open_source(context)
    try:
        rows = source.jobs()
    finally:
        source.close()
    if args.json:
        print_json(rows)
        return OK
    _note_source(source, context)
    if not rows:
        print(NO_JOBS_HINT, file=sys.stderr)
        return OK
    now = datetime.now(UTC)
    table(
        ["JOB", "SCHEDULE", "NEXT FIRE", "LAST FIRE", "LAST OUTCOME", "STATE"],
        [
            [
                row["name"],
                row["schedule"],
                _next_fire(row, now),
                instant_text(row.get("last_fire"), zone_of(row)),
                row.get("last_outcome") or "-",
                _state(row),
            ]
            for row in rows
        ],
    )
    return OK


def _since(text: str | None, zone: tzinfo) -> datetime | None:
    if text is None:
        return None
    from ...triggers import parse_instant

    try:
        # In UTC: a trigger adds intervals to it, and datetime arithmetic in a zone with
        # daylight saving time is wall-clock arithmetic (02:30 on a spring-forward day).
        return parse_instant(text, zone).astimezone(UTC)
    except ValueError as error:
        raise CommandError(f"--since: {error}") from None


def show_plan(args: argparse.Namespace) -> int:
    context = CommandContext(args)
    source = open_source(context)
    try:
        rows = _pick(source.jobs(), args.job)
        plans = []
        for row in rows:
            zone = zone_of(row)
            fires = source.plan(row, args.count, _since(args.since, zone))
            plans.append((row, zone, fires))
    finally:
        source.close()
    if args.json:
        print_json(
            [
                {
                    "job": row["name"],
                    "schedule": row["schedule"],
                    "timezone": row.get("timezone"),
                    "fires": [_fire_json(fire, zone) for fire in fires],
                }
                for row, zone, fires in plans
            ]
        )
        return OK
    _note_source(source, context)
    if not plans:
        print(NO_JOBS_HINT, file=sys.stderr)
    for index, (row, zone, fires) in enumerate(plans):
        if index:
            print()
        paused = " (paused: these fires wait for `sts resume`)" if row.get("paused") else ""
        heading = f"{row['name']}: {row['schedule']}, in {row.get('timezone') or 'local time'}"
        print(printable(heading) + paused)
        if not fires:
            print("  no upcoming fires")
            continue
        table(
            [f"  IN {row.get('timezone') or 'LOCAL TIME'}", "IN UTC", ""],
            [
                ["  " + instant_text(fire, zone), instant_text(fire, UTC), note]
                for fire, note in zip(fires, _changes(fires, zone), strict=True)
            ],
        )
    return OK


def _fire_json(fire: datetime, zone: tzinfo) -> dict[str, Any]:
    local = fire.astimezone(zone)
    return {"utc": fire.astimezone(UTC).isoformat(), "local": local.isoformat()}


def _changes(fires: list[datetime], zone: tzinfo) -> list[str]:
    """A note on each fire whose UTC offset differs from the fire before: a DST switch."""
    notes, previous = [], None
    for fire in fires:
        local = fire.astimezone(zone)
        note = ""
        if previous is not None and local.utcoffset() != previous.utcoffset():
            what = "daylight saving time" if local.dst() else "standard time"
            note = f"<- {what} since the fire before ({previous:%z} -> {local:%z})"
        notes.append(note)
        previous = local
    return notes


def _job_option(args: argparse.Namespace) -> str | None:
    """``JOB`` or ``--job JOB`` (the same; both given must agree)."""
    given = {name for name in (args.job, getattr(args, "job_option", None)) if name}
    if len(given) > 1:
        raise CommandError(f"two jobs given ({' and '.join(sorted(given))}): give one")
    return given.pop() if given else None


def _worker(run: dict[str, Any]) -> str:
    """Where a remote executor ran ``run`` (its record's ``output``), or ``""``."""
    output = run.get("output") or {}
    worker = output.get("worker") if isinstance(output, dict) else None
    if not isinstance(worker, str) or not worker:
        return ""
    return worker + (" (redelivered)" if output.get("redelivered") else "")


def show_history(args: argparse.Namespace) -> int:
    context = CommandContext(args)
    job = _job_option(args)
    source = open_source(context)
    try:
        rows = source.jobs()
        _pick(rows, job)
        zones = {row["name"]: zone_of(row) for row in rows}
        since = _since(args.since, zone_of(_pick(rows, job)[0]) if job else zone_named(None))
        # --since filters here: fetch every kept run, then keep the newest --limit of those.
        limit = MAX_RUNS if since is not None else args.limit
        runs = source.history(job, limit, args.failed)
    finally:
        source.close()
    if since is not None:
        runs = [run for run in runs if datetime.fromisoformat(run["fire_time"]) >= since]
        runs = runs[: args.limit]
    if args.json:
        print_json(runs)
        return OK
    _note_source(source, context)
    if not runs:
        print("no runs recorded" + (" that failed" if args.failed else ""), file=sys.stderr)
        return OK
    default_zone = zone_named(None)
    rows_text = [
        [
            instant_text(run["fire_time"], zones.get(run["job"], default_zone)),
            run["job"],
            run["outcome"] + (" (manual)" if run.get("manual") else ""),
            str(run.get("attempt", 1)),
            duration_text(run.get("duration")),
            run["run_id"],
            " ".join((run.get("error") or "").split()),
        ]
        for run in runs
    ]
    headers = ["FIRE TIME", "JOB", "OUTCOME", "TRY", "DURATION", "RUN", "ERROR"]
    if any(run.get("replica") for run in runs):
        # A group of replicas on one store (sts-postgres): which one made each record.
        headers.insert(-1, "REPLICA")
        for row, run in zip(rows_text, runs, strict=True):
            row.insert(-1, run.get("replica") or "-")
    if any(_worker(run) for run in runs):
        # Runs of a remote executor (sts-rabbitmq): where each ran, before the error.
        headers.insert(-1, "WORKER")
        for row, run in zip(rows_text, runs, strict=True):
            row.insert(-1, _worker(run) or "-")
    width = error_width(headers, rows_text)
    if width is not None:
        for row in rows_text:
            row[-1] = one_line(row[-1], width)
    table(headers, rows_text)
    return OK

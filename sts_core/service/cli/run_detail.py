"""``sts show RUN_ID``: one run in full: every attempt with its outcome and timings (in
the job's zone and in UTC), the whole error, the traceback and the output tail."""

from __future__ import annotations

import argparse
from datetime import UTC, tzinfo
from typing import Any

from .context import CommandContext
from .errors import OK, CommandError
from .inspect import MAX_RUNS
from .show import duration_text, instant_text, print_json, zone_named
from .sources import open_source, zone_of


def find_attempts(runs: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    """The records of run ``wanted`` (its id, or a unique start or end of it: ids of one
    process share their start and differ in their end), first attempt first.

    :raises CommandError: when no run, or more than one, matches.
    """
    ids = {run["run_id"] for run in runs}
    if wanted not in ids:
        starting = sorted(
            run_id for run_id in ids if run_id.startswith(wanted) or run_id.endswith(wanted)
        )
        if len(starting) > 1:
            raise CommandError(
                f"{wanted!r} is part of {len(starting)} run ids ({', '.join(starting[:5])}"
                f"{', ...' if len(starting) > 5 else ''}): give more of it"
            )
        if not starting:
            raise CommandError(
                f"no run {wanted!r} is recorded (`sts history` lists the kept runs with their "
                f"RUN id; older ones were dropped by the history limit, docs/state.md)"
            )
        wanted = starting[0]
    return sorted((run for run in runs if run["run_id"] == wanted), key=lambda r: r["attempt"])


def _both(value: str | None, zone: tzinfo) -> str:
    if value is None:
        return "-"
    return f"{instant_text(value, zone)} ({instant_text(value, UTC)})"


def show_run(args: argparse.Namespace) -> int:
    context = CommandContext(args)
    source = open_source(context)
    try:
        zones = {row["name"]: zone_of(row) for row in source.jobs()}
        attempts = find_attempts(source.history(None, MAX_RUNS, False), args.run_id)
    finally:
        source.close()
    if args.json:
        print_json(attempts)
        return OK
    first, last = attempts[0], attempts[-1]
    zone = zones.get(first["job"], zone_named(None))
    manual = " (manual)" if first.get("manual") else ""
    print(f"run {first['run_id']} of job {first['job']}{manual}: {last['outcome']}")
    print(f"  fire time:  {_both(first['fire_time'], zone)}")
    for run in attempts:
        print(
            f"  attempt {run['attempt']}: {run['outcome']}, took {duration_text(run['duration'])}"
        )
        print(f"    started:  {_both(run.get('started_at'), zone)}")
        print(f"    finished: {_both(run.get('finished_at'), zone)}")
        if run.get("retry_at"):
            print(f"    retry at: {_both(run['retry_at'], zone)}")
        if run.get("missed_count"):
            print(f"    stands for {run['missed_count']} missed fires")
        if run.get("error"):
            print(f"    error:    {run['error']}")
    if last.get("traceback"):
        print(f"traceback (attempt {last['attempt']}):")
        print(_indented(last["traceback"]))
    for name, text in (last.get("output") or {}).items():
        print(f"output, {name} (attempt {last['attempt']}):")
        print(_indented(text))
    return OK


def _indented(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.rstrip("\n").splitlines())

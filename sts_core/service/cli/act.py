"""``sts trigger``, ``sts pause`` and ``sts resume``: act on the running scheduler."""

from __future__ import annotations

import argparse

from ..printable import printable
from .context import CommandContext
from .errors import JOB_FAILED, OK
from .show import duration_text, instant_text, one_line, zone_named


def trigger(args: argparse.Namespace) -> int:
    context = CommandContext(args)
    if not args.wait:
        context.must_ask("trigger", job=args.job)
        print(f"started a run of {printable(args.job)}")
        return OK
    # No timeout: the answer comes when the run ends, however long it takes.
    answer = context.must_ask("trigger", job=args.job, wait=True, timeout=None)
    run = answer["run"]
    outcome = run["outcome"]
    line = f"{printable(args.job)}: {outcome} in {duration_text(run.get('duration'))}"
    if run.get("error"):
        line += f": {one_line(run['error'])}"
    print(line)
    return OK if outcome == "succeeded" else JOB_FAILED


def _paused_or_resumed(args: argparse.Namespace, command: str) -> int:
    context = CommandContext(args)
    row = context.must_ask(command, job=args.job)["job"]
    if row.get("paused"):
        print(f"{printable(row['name'])} is paused")
    else:
        when = instant_text(row.get("next_fire"), zone_named(row.get("timezone")))
        print(f"{printable(row['name'])} is active; next fire {when}")
    return OK


def remove(args: argparse.Namespace) -> int:
    context = CommandContext(args)
    context.must_ask("remove", job=args.job)
    print(f"removed {args.job} (a job of the config file comes back when the scheduler restarts)")
    return OK


def pause(args: argparse.Namespace) -> int:
    return _paused_or_resumed(args, "pause")


def resume(args: argparse.Namespace) -> int:
    return _paused_or_resumed(args, "resume")

"""A third round of attacks on "nothing lost, nothing run twice" (issue 16): fires that
wait for a worker's slot longer than their timeout + backstop.
Real processes on the real broker; every fire counted (lost and doubled must be 0)."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rabbit_helpers import (
    Namespace,
    lines,
    records,
    stop,
    sts_command,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.slow


def _jobs(count: int, at: str, policies: str) -> str:
    """``count`` jobs of ``slow`` runs, all due at ``at``: a burst in few messages."""
    return "".join(
        f"[job:j{number:02d}]\ntype = python\ncallable = rabbit_jobs:slow\n"
        f"schedule = at {at}\n{policies}"
        for number in range(count)
    )


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _recorded(state: Path) -> int:
    """How many runs a running scheduler's SQLite state file holds."""
    if not state.exists():
        return 0
    with sqlite3.connect(state) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


def _key(record: dict[str, object]) -> str:
    fire = datetime.fromisoformat(str(record["fire_time"])).astimezone(UTC).isoformat()
    return f"{record['job']}@{fire}"


def test_fires_waiting_for_a_slot_past_timeout_and_backstop_still_run(
    rabbit: Namespace, workdir: Path
) -> None:
    """12 fires due at once on the only worker, at concurrency 2: 3-s runs in 6 rounds
    (18 s), each well within its ``timeout`` (4 s). The worker claims all 12 at once and
    holds them, alive, renewing its holds; those of the 4th round on wait for a slot
    longer than ``timeout + backstop`` (4 + 5 s) after their grant. Nothing failed:
    every fire must run once and be recorded ``succeeded``, not ``timed_out`` by the
    scheduler's backstop (which then refuses the run: the fire is lost)."""
    config = write_config(workdir, rabbit, _jobs(12, _at(4), "misfire_grace = 60s\ntimeout = 4s\n"))
    env = {"STS_TEST_SLOW": "3"}
    worker = sts_command("worker", str(config), "--concurrency", "2", cwd=workdir, env=env)
    scheduler = sts_command("run", str(config), cwd=workdir, env=env)
    state = workdir / f"{sorted(rabbit.schedulers)[0]}.db"
    out = workdir / "out.txt"
    try:
        wait_for(lambda: _recorded(state) >= 12, "every fire's record", 120)
        time.sleep(2.0)  # a run refused or run twice would show by now
    finally:
        stop([scheduler])
        stop([worker])
    found = records(state)
    started = Counter(line.key for line in lines(out, "start"))
    ended = Counter(line.key for line in lines(out))
    outcomes = Counter(str(r["outcome"]) for r in found)
    lost = 12 - len({_key(r) for r in found if r["outcome"] == "succeeded"})
    doubled = sum(count - 1 for count in started.values())
    print(f"records={dict(outcomes)} ran={len(ended)} lost={lost} started twice={doubled}")
    assert doubled == 0, started.most_common(3)
    assert lost == 0, [r["error"] for r in found if r["outcome"] != "succeeded"][:2]
    assert len(found) == 12 and len(ended) == 12

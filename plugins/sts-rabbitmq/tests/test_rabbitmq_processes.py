"""Real processes on the real broker: `sts run` and `sts worker` processes, killed and cut
off from the broker; every fire counted (lost and doubled must be 0)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rabbit_helpers import (
    CuttableProxy,
    Namespace,
    lines,
    records,
    stop,
    sts_command,
    wait_for,
    write_config,
)


def _window(seconds: float, lead: float = 4.0) -> tuple[str, str]:
    start = datetime.now(UTC) + timedelta(seconds=lead)
    return start.isoformat(), (start + timedelta(seconds=seconds)).isoformat()


def test_two_workers_run_every_fire_exactly_once(rabbit: Namespace, workdir: Path) -> None:
    start, end = _window(25.0)
    config = write_config(
        workdir,
        rabbit,
        "[job:append]\ntype = python\ncallable = rabbit_jobs:append\nschedule = every 25ms\n"
        f"start = {start}\nend = {end}\noverlap = allow\ncoalesce = false\n"
        "misfire_grace = 60s\n",
        state="success_history = 5000",
    )
    workers = [sts_command("worker", str(config), "--concurrency", "16", cwd=workdir) for _ in range(2)]
    scheduler = sts_command("run", str(config), cwd=workdir)
    try:
        wait_for(lambda: datetime.now(UTC).isoformat() > end, "the end of the window", 120)
        out = workdir / "out.txt"
        count = 0

        def settled() -> bool:
            nonlocal count
            now = len(lines(out))
            settled_now, count = now == count and now > 0, now
            return settled_now

        wait_for(settled, "the last outcomes", 120)
    finally:
        stop([scheduler])
        stop(workers)
    assert scheduler.returncode == 0
    found = records(workdir / f"{sorted(rabbit.schedulers)[0]}.db")
    outcomes = Counter(record["outcome"] for record in found)
    done = lines(workdir / "out.txt")
    keys = Counter(line.key for line in done)
    doubled = sum(count - 1 for count in keys.values())
    succeeded = {
        f"append@{datetime.fromisoformat(str(r['fire_time'])).astimezone(UTC).isoformat()}"
        for r in found
        if r["outcome"] == "succeeded"
    }
    lost = len(succeeded - keys.keys())
    print(f"fires={len(found)} outcomes={dict(outcomes)} doubled={doubled} lost={lost}")
    assert outcomes == {"succeeded": len(found)}, outcomes
    assert len(found) >= 1000
    assert doubled == 0 and lost == 0
    assert len(keys) == len(found)  # no run without its record either
    by_worker = Counter(line.worker for line in done)
    assert len(by_worker) == 2 and min(by_worker.values()) > len(found) // 10, by_worker
    assert {r["output"]["worker"] for r in found} == set(by_worker)

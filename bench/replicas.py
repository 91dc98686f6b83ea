"""The replicas case: N ``TaskScheduler`` processes sharing one PostgreSQL database
(``sts-postgres``), ``jobs`` jobs every second for ``seconds``; each fire must run once.

Contenders: ``sts-1`` and ``sts-3`` (one and three replica processes). Figures: distinct
fires completed per second, lateness (a run's start against its nominal second) at
p50/p99, fires run twice, fires missed (nominal fires of the window that no replica ran).

APScheduler 4 (its SQLAlchemy data store shares a database between schedulers) is not on
the package index this project installs from (3.11 is its latest release there), and
APScheduler 3 documents that a job store must not be shared: so STS is measured alone.
The database server is ``127.0.0.1:5432`` (user postgres), or ``STS_BENCH_POSTGRES``.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from .measure import percentile

CONTENDERS = {"sts-1": 1, "sts-3": 3}
SERVER = os.environ.get("STS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
WARM_UP = 3.0
SETTLE = 2.0


def _admin(statement: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(statement.encode())


async def replicas(
    contender: str,
    *,
    jobs: int,
    seconds: float,
    warm_up: float = WARM_UP,
    settle: float = SETTLE,
) -> dict[str, Any]:
    count = CONTENDERS[contender]
    database = f"sts_bench_{secrets.token_hex(5)}"
    _admin(f'CREATE DATABASE "{database}"')
    try:
        with tempfile.TemporaryDirectory(prefix="sts-bench-replicas-") as scratch:
            return _measure(
                f"{SERVER}/{database}", Path(scratch), count, jobs, seconds, warm_up, settle
            )
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _measure(
    dsn: str, scratch: Path, count: int, jobs: int, seconds: float, warm_up: float, settle: float
) -> dict[str, Any]:
    anchor = float(int(time.time()))
    stop = scratch / "stop"
    outs = [scratch / f"replica{number}.txt" for number in range(count)]
    ready = [scratch / f"replica{number}.ready" for number in range(count)]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.replica_process",
                json.dumps(
                    {
                        "dsn": dsn,
                        "jobs": jobs,
                        "anchor": anchor,
                        "ready": str(ready[number]),
                        "stop": str(stop),
                        "out": str(out),
                    }
                ),
            ],
        )
        for number, out in enumerate(outs)
    ]
    try:
        # The window starts once every replica has started (imports, the schema, its
        # jobs scheduled and seeded) and warmed up.
        deadline = time.monotonic() + 300
        while not all(path.exists() for path in ready):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError("a replica did not start")
            time.sleep(0.1)
        window_start = time.time() + warm_up
        window_end = window_start + seconds
        time.sleep(max(0.0, window_end + settle - time.time()))
    finally:
        stop.touch()
        for process in processes:
            if process.wait(timeout=120) != 0:
                raise RuntimeError(f"a replica exited with {process.returncode}")
    seen: Counter[tuple[int, float]] = Counter()
    lateness: list[float] = []
    for out in outs:
        for line in out.read_text().splitlines():
            job, fire, late = line.split()
            if window_start <= float(fire) < window_end:
                seen[int(job), float(fire)] += 1
                lateness.append(float(late))
    lateness.sort()
    # The nominal fires in the window: every job fires on each second of the anchor's grid.
    first = math.ceil(window_start - anchor)
    expected = jobs * len(range(first, math.ceil(window_end - anchor)))
    return {
        "fires_per_s": len(seen) / seconds,
        "p50_ms": percentile(lateness, 0.50) * 1000,
        "p99_ms": percentile(lateness, 0.99) * 1000,
        "duplicates": sum(n - 1 for n in seen.values()),
        "missed": expected - len(seen),
    }

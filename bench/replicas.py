"""The replicas case: N scheduler processes sharing one PostgreSQL database, ``jobs`` jobs
every second for ``seconds``; each fire must run once.

Contenders: ``sts-1``, ``sts-2``, ``sts-3`` (``TaskScheduler`` processes on the
``sts-postgres`` store) and ``apscheduler4-2`` (two APScheduler 4 ``AsyncScheduler``
processes on its ``SQLAlchemyDataStore``, asyncpg, with the asyncpg event broker; in a
venv of its own, bench/apscheduler4_venv.py, since APScheduler 3 shares its import name
in the bench's). Each job fires at its own random phase in the second (``spread``, as in
the lateness case), or all together. Figures: distinct fires completed per second,
lateness (a run's start against its nominal fire) at p50/p99, fires run twice, fires
missed (nominal fires of the window that no process ran), and CPU per nominal fire: of
each scheduler process (STS: its engine's threads and its store's loop apart) and of the
database server's backends for the case's database.
The database server is ``127.0.0.1:5432`` (user postgres), or ``STS_BENCH_POSTGRES``.
"""

from __future__ import annotations

import json
import math
import os
import random
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

#: Each contender: which scheduler, and how many processes.
CONTENDERS = {
    "sts-1": ("sts", 1),
    "sts-2": ("sts", 2),
    "sts-3": ("sts", 3),
    "apscheduler4-2": ("apscheduler4", 2),
}
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
    spread: bool = True,
    warm_up: float = WARM_UP,
    settle: float = SETTLE,
) -> dict[str, Any]:
    kind, count = CONTENDERS[contender]
    database = f"sts_bench_{secrets.token_hex(5)}"
    _admin(f'CREATE DATABASE "{database}"')
    try:
        with tempfile.TemporaryDirectory(prefix="sts-bench-replicas-") as scratch:
            return _measure(
                f"{SERVER}/{database}",
                Path(scratch),
                kind,
                count,
                jobs,
                spread,
                seconds,
                warm_up,
                settle,
            )
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _measure(
    dsn: str,
    scratch: Path,
    kind: str,
    count: int,
    jobs: int,
    spread: bool,
    seconds: float,
    warm_up: float,
    settle: float,
) -> dict[str, Any]:
    anchor = float(int(time.time()))
    stop = scratch / "stop"
    outs = [scratch / f"replica{number}.txt" for number in range(count)]
    ready = [scratch / f"replica{number}.ready" for number in range(count)]
    command = _apscheduler4_command() if kind == "apscheduler4" else _sts_command()
    processes: list[subprocess.Popen[bytes]] = []

    def start(number: int) -> None:
        spec = {
            "dsn": dsn,
            "jobs": jobs,
            "spread": spread,
            "phases": phases(jobs, spread),
            "anchor": anchor,
            "identity": f"scheduler{number}",
            "add": number == 0,
            "ready": str(ready[number]),
            "stop": str(stop),
            "out": str(outs[number]),
        }
        # In a file: 10,000 phases are longer than one argument may be.
        path = scratch / f"replica{number}.json"
        path.write_text(json.dumps(spec))
        processes.append(subprocess.Popen([*command, str(path)]))

    try:
        if kind == "apscheduler4":
            # The first one makes the tables and adds the schedules; the others join it.
            start(0)
            _wait_ready(ready[:1], processes)
            for number in range(1, count):
                start(number)
        else:
            for number in range(count):
                start(number)
        # The window starts once every replica has started (imports, the schema, its
        # jobs scheduled and seeded) and warmed up.
        _wait_ready(ready, processes)
        window_start = time.time() + warm_up
        window_end = window_start + seconds
        server_before, commits_before = _server_cpu(dsn), _commits(dsn)
        time.sleep(max(0.0, window_end + settle - time.time()))
        server_after, commits_after = _server_cpu(dsn), _commits(dsn)
        server_span = window_end + settle - (window_start - warm_up)
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
    # The nominal fires in the window: every job fires each second of its grid.
    expected = sum(
        len(range(math.ceil(window_start - start), math.ceil(window_end - start)))
        for start in (anchor + phase for phase in phases(jobs, spread))
    )
    # CPU per nominal fire, load-proof where wall-clock lateness is not: every replica
    # handles every fire of every job in its loop (it claims it, wins or loses), so each
    # replica's CPU is divided by all the fires of its span.
    replica_cpu = []
    # Claims per nominal fire, for the group: fires sent in claiming statements (1 when
    # only each fire's preferred replica claims it, N when every replica does) and the
    # claiming statements themselves (both counted by the stores, from ready to stop).
    claims_sent = claim_statements = handoffs = 0.0
    for out in outs:
        cpu = json.loads(Path(f"{out}.cpu.json").read_text())
        fires = jobs * (cpu["ended"] - cpu["started"])
        claims = cpu.get("claims", {})
        claims_sent += claims.get("claims_sent", 0) / fires
        claim_statements += claims.get("claim_statements", 0) / fires
        handoffs += claims.get("handoffs_won", 0) / fires
        threads = cpu["threads"]
        store = sum(t for name, t in threads.items() if name.startswith("sts-postgres"))
        engine = sum(threads.values()) - store
        replica_cpu.append((engine / fires, store / fires))
    server = sum(server_after.get(pid, 0.0) - server_before.get(pid, 0.0) for pid in server_after)
    return {
        "fires_per_s": len(seen) / seconds,
        "p50_ms": percentile(lateness, 0.50) * 1000,
        "p99_ms": percentile(lateness, 0.99) * 1000,
        "duplicates": sum(n - 1 for n in seen.values()),
        "missed": expected - len(seen),
        "engine_us_per_fire": 1e6 * sum(engine for engine, _ in replica_cpu) / count,
        "store_us_per_fire": 1e6 * sum(store for _, store in replica_cpu) / count,
        "server_us_per_fire": 1e6 * server / (jobs * server_span),
        "commits_per_fire": (commits_after - commits_before) / (jobs * server_span),
        "claims_per_fire": claims_sent,
        "claim_statements_per_fire": claim_statements,
        "handoffs_per_fire": handoffs,
    }


def phases(jobs: int, spread: bool) -> list[float]:
    """Each job's offset in its second: random (one seed, so every process and the count
    agree) when ``spread``, else 0 (every job due together)."""
    rng = random.Random(17)
    return [rng.random() if spread else 0.0 for _ in range(jobs)]


def _sts_command() -> list[str]:
    return [sys.executable, "-m", "bench.replica_process"]


def _apscheduler4_command() -> list[str]:
    from .apscheduler4_venv import apscheduler4_python

    return [str(apscheduler4_python()), str(Path(__file__).with_name("apscheduler4_process.py"))]


def _wait_ready(ready: list[Path], processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 600
    while not all(path.exists() for path in ready):
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            raise RuntimeError("a scheduler process did not start")
        time.sleep(0.1)


def _commits(dsn: str) -> int:
    """Transactions committed in ``dsn``'s database so far (every statement of an
    autocommit connection is one): load-proof, where CPU time is not quite. Backends
    report them about every second, so a span's count is off by about a second's."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        row = connection.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def _server_cpu(dsn: str) -> dict[int, float]:
    """CPU seconds of the database server's backends serving ``dsn``'s database, by pid
    (read from /proc: the server runs on this machine)."""
    tick = os.sysconf("SC_CLK_TCK")
    with psycopg.connect(dsn, autocommit=True) as connection:
        pids = [
            row[0]
            for row in connection.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    times = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    return times

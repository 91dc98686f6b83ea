"""Real ``sts run`` replicas on one PostgreSQL database, and the count of what they ran.

Every run appends ``job fire_time pid`` to a log (one ``write`` on an ``O_APPEND`` file,
so lines of concurrent processes never interleave); the count compares that log, the
runs table and the nominal grid of each job: lost and doubled fires."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from postgres_helpers import query

FIRES_MODULE = """
import asyncio, os
import sts

_log = None

async def record():
    global _log
    if _log is None:
        _log = os.open(os.environ["FIRES_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    run = sts.current_run()
    os.write(_log, f"{run.job} {run.fire_time.isoformat()} {os.getpid()}\\n".encode())
    await asyncio.sleep(float(os.environ.get("FIRES_RUN_SECONDS", "0")))
"""


def replica_config(dsn: str, jobs: int, *, lease: str = "30s", name: str = "replicas") -> str:
    sections = [f"""[scheduler]
name = {name}
timezone = UTC
state = postgres

[state]
dsn = {dsn}
lease = {lease}
success_history = 100000
failure_history = 100000

[logging]
level = WARNING
"""]
    sections += [f"""[job:job{number}]
type = python
callable = firesjob:record
schedule = every 1s
""" for number in range(jobs)]
    return "\n".join(sections)


@dataclass
class Count:
    """What the replicas ran, against each job's nominal fires in a window."""

    fires: int = 0
    ran: int = 0
    doubled: int = 0
    lost: int = 0
    recorded_not_run: int = 0
    by_replica: Counter[int] = field(default_factory=Counter)
    lost_fires: list[tuple[str, datetime]] = field(default_factory=list)

    def __str__(self) -> str:
        split = ", ".join(f"pid {pid}: {n}" for pid, n in sorted(self.by_replica.items()))
        lost = ""
        if self.lost_fires:
            times = sorted(fire for _, fire in self.lost_fires)
            lost = f" (lost {times[0].time()} .. {times[-1].time()})"
        return (
            f"{self.fires} nominal fires: {self.ran} ran, {self.doubled} doubled{lost}, "
            f"{self.lost} lost, {self.recorded_not_run} recorded missed/skipped/interrupted; "
            f"split {split}"
        )


def read_log(path: Path) -> list[tuple[str, datetime, int]]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    rows = []
    for line in lines:
        job, fire, pid = line.split()
        rows.append((job, datetime.fromisoformat(fire), int(pid)))
    return rows


def count(dsn: str, log: Path, start: datetime, end: datetime, group: str = "replicas") -> Count:
    """Compare every job's nominal fires in ``[start, end]`` (its grid is read from the
    fires seen) with the log and the runs table."""
    ran = read_log(log)
    result = Count()
    seen: Counter[tuple[str, datetime]] = Counter((job, fire) for job, fire, _ in ran)
    result.doubled = sum(n - 1 for n in seen.values() if n > 1)
    not_run = {
        (job, fire)
        for job, fire in query(
            dsn,
            "SELECT job, fire_time FROM sts_runs WHERE grp = %s "
            "AND outcome IN ('missed', 'skipped', 'interrupted')",
            group,
        )
    }
    by_job: dict[str, list[datetime]] = defaultdict(list)
    for job, fire in seen:
        by_job[job].append(fire)
    for job, fires in by_job.items():
        grid = min(fires)
        step = timedelta(seconds=1)
        fire = grid + step * max(0, -(-(start - grid) // step))
        while fire <= end:
            result.fires += 1
            if (job, fire) in seen:
                result.ran += 1
            elif (job, fire) in not_run:
                result.recorded_not_run += 1
            else:
                result.lost += 1
                result.lost_fires.append((job, fire))
            fire += step
    for _job, fire, pid in ran:
        if start <= fire <= end:
            result.by_replica[pid] += 1
    return result


def environment_for(root: Path, env: dict[str, str], *, run_seconds: float = 0.0) -> Path:
    (root / "firesjob.py").write_text(FIRES_MODULE)
    log = root / "fires.log"
    env["FIRES_LOG"] = str(log)
    env["FIRES_RUN_SECONDS"] = str(run_seconds)
    return log


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

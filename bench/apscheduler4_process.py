"""One APScheduler 4 scheduler of the replicas case, run by the interpreter of its own
venv (bench/apscheduler4_venv.py): ``python bench/apscheduler4_process.py SPEC.json``.

Imports nothing of STS or of the bench (APScheduler 3 is installed where they are, under
the same import name). An ``AsyncScheduler`` on the ``SQLAlchemyDataStore`` of the
database ``dsn`` (asyncpg), with an ``AsyncpgEventBroker`` so the schedulers of the
group hear of one another's changes; the process with ``add`` set adds ``jobs``
schedules of one task (``max_running_jobs=None``), every second on the grid of
``anchor`` plus each job's ``phases`` entry, before it says it is ready. The protocol
is bench/replica_process.py's: the file ``ready`` once started, stop when the file
``stop`` appears, ``job fire lateness`` lines to ``out`` and CPU seconds to ``out`` +
``.cpu.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Checked by mypy against the bench venv's APScheduler 3, where these are untyped.
from apscheduler import (  # type: ignore[import-untyped]
    AsyncScheduler,
    ConflictPolicy,
    TaskDefaults,
    current_job,
)
from apscheduler.datastores.sqlalchemy import (  # type: ignore[import-untyped]
    SQLAlchemyDataStore,
)
from apscheduler.eventbrokers.asyncpg import AsyncpgEventBroker  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

SEEN: list[tuple[int, float, float]] = []


async def tick(number: int) -> None:
    """The job: note its nominal fire and how late it started."""
    fire = current_job.get().scheduled_fire_time
    assert fire is not None
    SEEN.append((number, fire.timestamp(), time.time() - fire.timestamp()))


def cpu_seconds() -> float:
    usage = os.times()
    return usage.user + usage.system


async def serve(spec: dict[str, Any]) -> dict[str, Any]:
    url = spec["dsn"].replace("postgresql://", "postgresql+asyncpg://", 1)
    data_store = SQLAlchemyDataStore(url)
    event_broker = AsyncpgEventBroker(spec["dsn"])
    async with AsyncScheduler(
        data_store,
        event_broker,
        identity=spec["identity"],
        # Every due job may start at once: the jobs are nothing but a note.
        max_concurrent_jobs=max(100, spec["jobs"]),
        # Every job of the one task may run at once (its default is one at a time: a
        # thousand jobs of one task would queue behind each other).
        task_defaults=TaskDefaults(max_running_jobs=None),
        cleanup_interval=None,
    ) as scheduler:
        if spec["add"]:
            task = await scheduler.configure_task(tick, max_running_jobs=None)
            for number, phase in enumerate(spec["phases"]):
                start = datetime.fromtimestamp(spec["anchor"] + phase, UTC)
                await scheduler.add_schedule(
                    task.id,
                    IntervalTrigger(seconds=1, start_time=start),
                    id=f"job{number}",
                    args=[number],
                    misfire_grace_time=None,
                    conflict_policy=ConflictPolicy.replace,
                )
        await scheduler.start_in_background()
        Path(spec["ready"]).touch()
        started, cpu_before = time.time(), cpu_seconds()
        stop = Path(spec["stop"])
        while not stop.exists():
            await asyncio.sleep(0.1)
        ended, cpu_after = time.time(), cpu_seconds()
        await scheduler.stop()
    return {"started": started, "ended": ended, "threads": {"process": cpu_after - cpu_before}}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    cpu = asyncio.run(serve(spec))
    with open(spec["out"], "w") as out:
        out.writelines(f"{job} {fire!r} {lateness!r}\n" for job, fire, lateness in SEEN)
    Path(spec["out"] + ".cpu.json").write_text(json.dumps(cpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

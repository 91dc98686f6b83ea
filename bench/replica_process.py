"""One replica of the replicas case: ``python -m bench.replica_process '<json>'``.

A ``TaskScheduler`` on the shared PostgreSQL store with ``jobs`` jobs every second (on one
grid, anchored at ``anchor``), each run noting its job, nominal fire and lateness. Once
started it creates the file ``ready``; when the file ``stop`` appears it stops and writes
``job fire lateness`` lines to ``out``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sts_postgres import PostgresStore

import sts


async def serve(spec: dict[str, Any]) -> list[tuple[int, float, float]]:
    seen: list[tuple[int, float, float]] = []
    store = PostgresStore(spec["dsn"], group="bench")
    scheduler = sts.TaskScheduler(name="bench", store=store, loop_block_threshold=None)
    anchor = datetime.fromtimestamp(spec["anchor"], UTC)
    for number in range(spec["jobs"]):

        async def run(number: int = number) -> None:
            fire = sts.current_run().fire_time.timestamp()
            seen.append((number, fire, time.time() - fire))

        scheduler.schedule(
            sts.FunctionTask(run, name=f"job{number}"),
            sts.IntervalTrigger(1, anchor=anchor),
            misfire_grace=None,
        )
    async with scheduler:
        Path(spec["ready"]).touch()
        stop = Path(spec["stop"])
        while not stop.exists():
            await asyncio.sleep(0.1)
    await asyncio.to_thread(store.close)
    return seen


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    seen = asyncio.run(serve(spec))
    with open(spec["out"], "w") as out:
        out.writelines(f"{job} {fire!r} {lateness!r}\n" for job, fire, lateness in seen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

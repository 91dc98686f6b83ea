"""One replica of the replicas case: ``python -m bench.replica_process SPEC.json``.

A ``TaskScheduler`` on the shared PostgreSQL store with ``jobs`` jobs every second (on the
grid of ``anchor`` plus each job's ``phases`` entry), each run noting its job, nominal
fire and lateness. Once started it creates the file ``ready``; when the file
``stop`` appears it stops and writes
``job fire lateness`` lines to ``out``, and its CPU time from ready to stop, per thread
(the engine's loop, the store's loop), to ``out`` + ``.cpu.json``.

With ``STS_BENCH_PROFILE=DIR`` each thread runs under cProfile, written to
``DIR/replica<pid>-<thread>.prof`` (profiling slows the replica: read the shares, not the
figures).
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sts_postgres import PostgresStore, loop_thread

import sts

PROFILE_DIR = os.environ.get("STS_BENCH_PROFILE")


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each thread of this process, by thread name."""
    tick = os.sysconf("SC_CLK_TCK")
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    times: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        # Python 3.11 does not give its threads' names to the OS: ask threading.
        name = names.get(int(task.name), "other")
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # the thread ended meanwhile
            continue
        times[name] = times.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return times


def claim_counts(store: PostgresStore) -> dict[str, int]:
    """The store's claim counters: fires sent in claiming statements (inserts), claiming
    statements, and watched fires checked (another replica was preferred for them)."""
    claims = store.claims
    # Before watched fires were checked instead of claimed, every fire a replica handled
    # was sent to be claimed (the old version has no claims_sent: compare versions).
    sent = getattr(claims, "claims_sent", claims.claims_won + claims.claims_lost)
    return {
        "claims_sent": sent,
        "claim_statements": getattr(claims, "claim_statements", 0),
        "watched": getattr(claims, "watched", 0),
        "check_statements": getattr(claims, "check_statements", 0),
        "handoffs_won": getattr(claims, "handoffs_won", 0),
    }


def profiled(name: str, work: Callable[[], Any]) -> Any:
    if PROFILE_DIR is None:
        return work()
    profile = cProfile.Profile()
    try:
        return profile.runcall(work)
    finally:
        profile.dump_stats(Path(PROFILE_DIR) / f"replica{os.getpid()}-{name}.prof")


if PROFILE_DIR is not None:
    _run = loop_thread.LoopThread._run

    def _profiled_run(self: loop_thread.LoopThread) -> None:
        profiled("store", lambda: _run(self))

    loop_thread.LoopThread._run = _profiled_run  # type: ignore[method-assign]


async def serve(spec: dict[str, Any]) -> tuple[list[tuple[int, float, float]], dict[str, Any]]:
    seen: list[tuple[int, float, float]] = []
    store = PostgresStore(spec["dsn"], group="bench")
    scheduler = sts.TaskScheduler(name="bench", store=store, loop_block_threshold=None)
    for number, phase in enumerate(spec["phases"]):
        anchor = datetime.fromtimestamp(spec["anchor"] + phase, UTC)

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
        started, threads_before = time.time(), thread_cpu()
        claims_before = claim_counts(store)
        stop = Path(spec["stop"])
        while not stop.exists():
            await asyncio.sleep(0.1)
        ended, threads_after = time.time(), thread_cpu()
        claims_after = claim_counts(store)
    await asyncio.to_thread(store.close)
    cpu = {
        "started": started,
        "ended": ended,
        "threads": {
            name: threads_after[name] - threads_before.get(name, 0.0) for name in threads_after
        },
        "claims": {name: claims_after[name] - claims_before[name] for name in claims_after},
    }
    return seen, cpu


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    seen, cpu = profiled("engine", lambda: asyncio.run(serve(spec)))
    with open(spec["out"], "w") as out:
        out.writelines(f"{job} {fire!r} {lateness!r}\n" for job, fire, lateness in seen)
    Path(spec["out"] + ".cpu.json").write_text(json.dumps(cpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

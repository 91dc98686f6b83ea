"""Runs in flight at a crash come back as ``interrupted``; the engine resumes from the file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sts
from sts.testing import VirtualClock
from sts_core.records import Outcome, RunContext, RunRecord
from sts_core.service.sqlite_store import SQLiteStore
from sts_core.store import JobState

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def test_a_run_in_flight_when_the_process_is_killed_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    child = textwrap.dedent(f"""
        import os, signal
        from datetime import datetime, UTC
        from sts_core.records import Outcome, RunContext, RunRecord
        from sts_core.service.sqlite_store import SQLiteStore
        store = SQLiteStore({str(path)!r}, flush_interval=None)
        t = datetime(2026, 3, 1, 9, tzinfo=UTC)
        store.run_started(RunContext("done", "job", t, 1, t))
        done = RunRecord("done", "job", t, Outcome.SUCCEEDED, started_at=t, finished_at=t)
        store.record_run(done)
        store.run_started(RunContext("busy", "job", t, 2, t, manual=True))
        store.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=30)
    assert result.returncode == -9, result.stderr.decode()
    with SQLiteStore(path, flush_interval=None) as store:
        [(in_flight, pid)] = store.runs_in_flight()
        assert in_flight.run_id == "busy"
        recovered = store.recover_interrupted()
        assert store.recover_interrupted() == []
        history = store.history()
        assert store.integrity_check() == ["ok"]
    [interrupted] = recovered
    assert (interrupted.run_id, interrupted.attempt, interrupted.manual) == ("busy", 2, True)
    assert interrupted.outcome is Outcome.INTERRUPTED
    assert interrupted.fire_time == T0 and interrupted.started_at == T0
    assert f"pid {pid}" in (interrupted.error or "")
    assert [(r.run_id, r.outcome) for r in history] == [
        ("busy", Outcome.INTERRUPTED),
        ("done", Outcome.SUCCEEDED),
    ]


def test_each_attempt_of_a_run_is_tracked_on_its_own(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db", flush_interval=None) as store:
        store.run_started(RunContext("r", "job", T0, 1, T0))
        store.record_run(RunRecord("r", "job", T0, Outcome.FAILED, attempt=1, retry_at=T0))
        store.run_started(RunContext("r", "job", T0, 2, T0))
        [(in_flight, _)] = store.runs_in_flight()
        assert in_flight.attempt == 2
        store.record_run(RunRecord("r", "job", T0, Outcome.SUCCEEDED, attempt=2))
        assert store.runs_in_flight() == []
        assert store.recover_interrupted() == []


class Counter(sts.Task):
    def __init__(self, name: str) -> None:
        super().__init__(name=name)
        self.fires: list[datetime] = []

    async def run(self) -> None:
        self.fires.append(sts.current_run().fire_time)


def test_the_engine_resumes_from_the_stored_state(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    clock = VirtualClock(T0)
    first_task, gone = Counter("tick"), Counter("gone")

    async def first_life() -> None:
        store = SQLiteStore(path, flush_interval=None)
        scheduler = sts.TaskScheduler(clock=clock, store=store, timezone="UTC")
        scheduler.schedule(first_task, "every 10s")
        scheduler.schedule(gone, "every 1h")
        async with scheduler:
            scheduler.pause("gone")
            await asyncio.sleep(35)
        store.close()

    clock.run(first_life())
    assert first_task.fires == [T0 + timedelta(seconds=s) for s in (10, 20, 30)]

    # Down for 12 seconds: the fire due at +40s is late but within the misfire grace.
    clock.jump(12)
    second_task = Counter("tick")

    async def second_life() -> None:
        store = SQLiteStore(path, flush_interval=None)
        scheduler = sts.TaskScheduler(clock=clock, store=store, timezone="UTC")
        job = scheduler.schedule(second_task, "every 10s")
        async with scheduler:
            assert job.next_fire == T0 + timedelta(seconds=40)
            assert job.last_fire == T0 + timedelta(seconds=30)
            await asyncio.sleep(10)  # from +47s to +57s
        assert list(store.load_jobs()) == ["tick"]
        assert all(record.job == "tick" for record in store.history())
        store.close()

    clock.run(second_life())
    assert second_task.fires == [T0 + timedelta(seconds=s) for s in (40, 50)]


def test_a_changed_schedule_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path, flush_interval=None) as store:
        store.save_job(JobState("tick", next_fire=T0 + timedelta(days=9), schedule="every 10s"))
    clock = VirtualClock(T0)

    async def main() -> datetime | None:
        with SQLiteStore(path, flush_interval=None) as store:
            scheduler = sts.TaskScheduler(clock=clock, store=store, timezone="UTC")
            job = scheduler.schedule(Counter("tick"), "every 5s")
            async with scheduler:
                return job.next_fire

    assert clock.run(main()) == T0 + timedelta(seconds=5)

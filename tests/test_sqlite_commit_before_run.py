"""Commit before run: a fire's task starts only once the fire's next-fire state and the
run's start are on disk, and the runs of fires due together share one commit."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import sts
from sts.testing import VirtualClock
from sts_core.service.sqlite_store import SQLiteStore, open_sqlite_store


def _on_disk(path: Path, job: str) -> tuple[Any, ...]:
    """The job's stored next fire and its runs in flight, as another process sees them."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        row = connection.execute("SELECT next_fire FROM jobs WHERE name = ?", (job,)).fetchone()
        flying = connection.execute(
            "SELECT run_id FROM runs_in_flight WHERE job = ?", (job,)
        ).fetchall()
        return (row[0] if row else None, [run_id for (run_id,) in flying])
    finally:
        connection.close()


@contextmanager
def _running_while_held(
    store: SQLiteStore, work: Callable[[], Any], schedule: str
) -> Iterator[sqlite3.Connection]:
    """A scheduler running ``work`` on ``store`` while another process holds the file's
    write lock: the caller lets go with ``COMMIT`` on the connection it gets."""
    scheduler = sts.TaskScheduler(name="cbr", blocking=False, store=store)
    scheduler.schedule(sts.FunctionTask(work, name="work"), schedule)
    other = sqlite3.connect(store.path, isolation_level=None, timeout=10)
    other.execute("BEGIN IMMEDIATE")
    scheduler.run()
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("COMMIT")
        other.close()
        scheduler.stop(grace=2)
        store.close()


def test_a_task_starts_only_once_its_next_fire_and_its_start_are_committed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    seen: list[tuple[datetime, str, tuple[Any, ...]]] = []
    done = threading.Event()

    def work() -> None:  # a sync task: it reads the file on a pool thread, as a crash would
        run = sts.current_run()
        seen.append((run.fire_time, run.run_id, _on_disk(path, "work")))
        done.set()

    store = SQLiteStore(path, flush_interval=0.02)
    # Another process holds the write lock across the fire: no commit can happen until it
    # lets go, so a run that does not wait for its commit finds nothing on disk.
    with _running_while_held(store, work, "every 300ms") as other:
        time.sleep(0.6)
        released = datetime.now(UTC)
        other.execute("COMMIT")
        assert done.wait(20)
    fire, run_id, (next_fire, in_flight) = seen[0]
    assert next_fire is not None, "the task ran before its fire's next-fire state was on disk"
    assert datetime.fromisoformat(next_fire) > fire
    assert run_id in in_flight
    assert fire < released


def test_runs_of_fires_due_together_share_one_commit(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    commits: list[float] = []
    seen: list[int] = []
    jobs = 300  # three of the fire loop's batches of 128

    async def work() -> None:
        seen.append(len(commits))

    # Only runs waiting make it commit: no timer, no full batch.
    store = SQLiteStore(path, flush_interval=10, batch_size=100_000)
    store._connection.set_trace_callback(
        lambda sql: commits.append(time.monotonic()) if sql == "COMMIT" else None
    )
    scheduler = sts.TaskScheduler(name="cbr", blocking=False, store=store)
    due = datetime.now(UTC) + timedelta(milliseconds=500)
    task = sts.FunctionTask(work, name="work")
    for number in range(jobs):
        scheduler.schedule(task, sts.DateTrigger(due), name=f"job-{number}")
    scheduler.run()
    before = len(commits)  # the start's commit of the 300 job states
    try:
        deadline = time.monotonic() + 20
        while len(seen) < jobs and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        scheduler.stop(grace=2)
        store.close()
    assert len(seen) == jobs
    # Every task waited for a commit, and all 300 waited for at most one per batch.
    assert min(seen) - before >= 1
    assert max(seen) - before <= 3, (before, seen)


def test_a_failing_store_does_not_hold_runs_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While commits fail (here: the file is full), runs go on; the error is logged."""
    path = tmp_path / "state.db"
    runs: list[str] = []

    async def work() -> None:
        runs.append(sts.current_run().run_id)
        raise RuntimeError("x" * 3000)  # a long record: the file fills at once

    store = SQLiteStore(path, flush_interval=0.02, failure_history=1000)
    pages = store._connection.execute("PRAGMA page_count").fetchone()[0]
    store._connection.execute(f"PRAGMA max_page_count = {pages}")
    scheduler = sts.TaskScheduler(name="cbr", blocking=False, store=store)
    scheduler.schedule(sts.FunctionTask(work, name="work"), "every 50ms")
    scheduler.run()
    try:
        deadline = time.monotonic() + 20
        while len(runs) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.failing is not None and "SQLITE_FULL" in store.failing
        with store._db_lock:  # room again: the writer catches up on its own
            store._connection.execute("PRAGMA max_page_count = 1000000")
        deadline = time.monotonic() + 20
        while store.failing is not None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        scheduler.stop(grace=2)
        store.close()
    assert len(runs) >= 10
    errors = [r.getMessage() for r in caplog.records if "tried again" in r.getMessage()]
    assert len(errors) == 1, errors  # once per outage, with the real reason
    assert "database or disk is full (SQLITE_FULL)" in errors[0]
    assert any("is written again" in r.getMessage() for r in caplog.records)
    # Once the file has room again, nothing the engine did is missing.
    with SQLiteStore(path, flush_interval=None, failure_history=1000) as reader:
        assert {r.run_id for r in reader.history(limit=1000, failed_only=True)} >= set(runs)


def test_a_virtual_clock_does_not_jump_ahead_of_the_commit(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    """Timing tests keep a real store: while a run waits for its commit (real
    milliseconds on a thread), virtual time stands still instead of jumping to the stop."""
    starts: list[datetime] = []

    async def work() -> None:
        starts.append(virtual_clock.now())

    store = SQLiteStore(tmp_path / "state.db", flush_interval=0.05)
    scheduler = sts.TaskScheduler(name="virtual", store=store, clock=virtual_clock)
    scheduler.schedule(sts.FunctionTask(work, name="work"), "every 10s")
    origin = virtual_clock.now()

    async def main() -> None:
        async with scheduler:
            await asyncio.sleep(35)

    try:
        virtual_clock.run(main())
    finally:
        store.close()
    assert [(start - origin).total_seconds() for start in starts] == [10.0, 20.0, 30.0]


def test_commit_before_run_can_be_turned_off_for_throughput(tmp_path: Path) -> None:
    """``[state] commit_before_run = no``: runs start at once, even while the file is held."""
    path = tmp_path / "state.db"
    started = threading.Event()

    async def work() -> None:
        started.set()

    store = open_sqlite_store("cbr", path=str(path), commit_before_run="no")
    assert store.commit_before_run is False
    with _running_while_held(store, work, "every 100ms"):
        assert started.wait(5)  # while another process still holds the write lock

"""The SQLite store buffers writes and commits them in batches, never on the caller's time."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sts_core.records import Outcome, RunRecord
from sts_core.service.sqlite_store import SQLiteStore
from sts_core.store import JobState

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def stored_runs(path: Path) -> int:
    """Runs on disk, as another process sees them."""
    with closing_connection(path) as other:
        return int(other.execute("SELECT count(*) FROM runs").fetchone()[0])


@contextmanager
def closing_connection(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path, timeout=10)
    try:
        yield connection
    finally:
        connection.close()


def a_run(index: int) -> RunRecord:
    return RunRecord(f"r{index}", "job", T0, Outcome.SUCCEEDED, started_at=T0, finished_at=T0)


def test_writes_wait_in_the_buffer_until_the_batch_is_full(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db", flush_interval=None, batch_size=3) as store:
        store.record_run(a_run(1))
        store.record_run(a_run(2))
        assert stored_runs(store.path) == 0
        store.record_run(a_run(3))
        assert stored_runs(store.path) == 3
        store.record_run(a_run(4))
        assert stored_runs(store.path) == 3
        store.flush()
        assert stored_runs(store.path) == 4


def test_close_writes_what_is_buffered(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", flush_interval=None)
    store.record_run(a_run(1))
    store.save_job(JobState("job", next_fire=T0, schedule="every 1s"))
    assert stored_runs(store.path) == 0
    store.close()
    assert stored_runs(tmp_path / "s.db") == 1


def test_reads_see_buffered_writes(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db", flush_interval=None) as store:
        store.save_job(JobState("job", schedule="every 1s"))
        store.record_run(a_run(1))
        assert list(store.load_jobs()) == ["job"]
        assert [r.run_id for r in store.history()] == ["r1"]


def test_the_writer_thread_commits_within_the_flush_interval(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db", flush_interval=0.05, batch_size=1000) as store:
        store.record_run(a_run(1))
        deadline = time.monotonic() + 5
        while stored_runs(store.path) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stored_runs(store.path) == 1


def test_a_locked_file_does_not_block_the_caller(tmp_path: Path) -> None:
    """Another process holding the file (a backup, a slow disk) must not stall the loop."""
    path = tmp_path / "s.db"
    with SQLiteStore(path, flush_interval=0.01, batch_size=5, success_history=100) as store:
        with closing_connection(path) as other:
            other.isolation_level = None
            other.execute("BEGIN EXCLUSIVE")
            started = time.perf_counter()
            for index in range(50):  # ten full batches: each wakes the writer, none waits
                store.record_run(a_run(index))
            elapsed = time.perf_counter() - started
            time.sleep(0.05)  # the writer is now waiting for the lock
            other.execute("COMMIT")
        assert elapsed < 0.5
        assert len(store.history(limit=100)) == 50


def test_a_batch_is_one_transaction(tmp_path: Path) -> None:
    """Many writes cost one commit: far faster than a commit per write."""
    with SQLiteStore(tmp_path / "s.db", flush_interval=None, batch_size=10_000) as store:
        started = time.perf_counter()
        for index in range(2000):
            store.record_run(a_run(index))
            store.save_job(JobState("job", next_fire=T0, schedule="every 1s"))
        buffered = time.perf_counter() - started
        store.flush()
        assert stored_runs(store.path) == 20  # the default success history limit
    assert buffered < 0.5, f"4000 buffered writes took {buffered:.3f}s"

"""Disk and file faults under the SQLite store: a full disk, a read-only one, a file
deleted or replaced while the scheduler runs, another process holding the file; and the
modes of the files it creates."""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from control_helpers import short_socket_dir

import sts
from sts.testing import require
from sts_core.records import Outcome, RunRecord
from sts_core.service.control import request
from sts_core.service.sqlite_store import SQLiteStore, StateStoreError

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def a_run(index: int, size: int = 0) -> RunRecord:
    return RunRecord(
        f"r{index}", "job", T0, Outcome.FAILED, started_at=T0, finished_at=T0, error="e" * size
    )


def stored_runs(path: Path) -> int:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return int(connection.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        connection.close()


def wait_until(condition: Callable[[], object], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# -- a full file ---------------------------------------------------------------------------


def test_a_full_file_reports_sqlite_full_and_keeps_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SQLiteStore(path, flush_interval=None, batch_size=10_000, failure_history=1000) as store:
        pages = store._connection.execute("PRAGMA page_count").fetchone()[0]
        store._connection.execute(f"PRAGMA max_page_count = {pages + 2}")
        for index in range(50):
            store.record_run(a_run(index, size=2000))
        with pytest.raises(StateStoreError) as full:
            store.flush()
        assert "database or disk is full (SQLITE_FULL)" in str(full.value)
        assert "cannot rollback" not in str(full.value)
        assert stored_runs(path) == 0  # the batch is all or nothing ...
        store._connection.execute("PRAGMA max_page_count = 1000000")
        store.flush()  # ... and kept: with room again, every write of it arrives
        assert stored_runs(path) == 50


# -- a real full disk, a read-only disk (a small tmpfs; needs root to mount) -------------------


@contextlib.contextmanager
def small_disk(tmp_path: Path, size: str) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    require(os.geteuid() == 0, "mounting a small tmpfs for a real full disk needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    require(done.returncode == 0, f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Fill the disk up with one file; delete it to make room again."""
    filler = directory / "filler"
    with open(filler, "wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


def test_a_full_disk_is_reported_as_such_and_the_writes_arrive_once_there_is_room(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with small_disk(tmp_path, "2m") as disk:
        path = disk / "s.db"
        with SQLiteStore(path, flush_interval=0.01, failure_history=1000) as store:
            store.record_run(a_run(0))
            wait_until(lambda: stored_runs(path) == 1)
            filler = fill(disk)
            for index in range(1, 200):
                store.record_run(a_run(index, size=2000))
            wait_until(lambda: store.failing is not None)
            assert "SQLITE_FULL" in store.failing
            filler.unlink()
            wait_until(lambda: store.failing is None)
            wait_until(lambda: stored_runs(path) == 200)
            assert [r for r in store.history(limit=1000) if r.run_id == "r199"]
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "cannot rollback" in m or "lost" in m], messages
    assert len([m for m in messages if "SQLITE_FULL" in m]) == 1  # once per outage


def test_a_read_only_disk_is_refused_with_a_sentence_naming_the_file(tmp_path: Path) -> None:
    with small_disk(tmp_path, "4m") as disk:
        path = disk / "s.db"
        with SQLiteStore(path, flush_interval=None) as store:
            store.record_run(a_run(0))
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            with pytest.raises(
                StateStoreError, match=f"state database {disk / 'new.db'}.*Read-only"
            ):
                SQLiteStore(disk / "new.db")
            with pytest.raises(StateStoreError, match=f"state database {path}") as refused:
                SQLiteStore(path).close()
            assert "readonly" in str(refused.value) or "unable to open" in str(refused.value)
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert stored_runs(path) == 1


# -- a state file deleted or replaced while the scheduler runs -------------------------------


async def _nothing() -> None:
    pass


def _scheduler(path: Path) -> tuple[sts.TaskScheduler, SQLiteStore]:
    store = SQLiteStore(path, flush_interval=0.02)
    scheduler = sts.TaskScheduler(name="files", blocking=False, store=store)
    scheduler.schedule(sts.FunctionTask(_nothing, name="tick"), "every 50ms")
    scheduler.schedule(sts.FunctionTask(_nothing, name="nightly"), "every 100ms")
    return scheduler, store


def _paused_on_disk(path: Path) -> list[tuple[str, int]]:
    try:  # the file may be missing (deleted), or have no tables yet
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute("SELECT name, paused FROM jobs ORDER BY name").fetchall()
        finally:
            connection.close()
    except sqlite3.OperationalError:
        return []


@pytest.mark.parametrize("how", ["deleted", "replaced", "replaced by an older backup"])
def test_a_state_file_deleted_while_running_is_noticed_and_written_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    path = tmp_path / "state.db"
    scheduler, store = _scheduler(path)
    scheduler.run()
    try:
        scheduler.pause("nightly")
        wait_until(lambda: ("nightly", 1) in _paused_on_disk(path))
        if how == "replaced":  # another (empty) database moved in its place
            sqlite3.connect(tmp_path / "other.db").close()
            os.replace(tmp_path / "other.db", path)
        elif how == "replaced by an older backup":  # a file of schema 1: upgraded, then written
            SQLiteStore(tmp_path / "old.db", flush_interval=None).close()
            with sqlite3.connect(tmp_path / "old.db") as old:
                old.executescript(
                    "ALTER TABLE jobs DROP COLUMN paused_reason; PRAGMA user_version=1;"
                )
            old.close()
            os.replace(tmp_path / "old.db", path)
        else:  # the database file last: its inode is what the store watches
            for suffix in ("-wal", "-shm", ""):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        # The writer notices (the inode changed) and writes every job's state again.
        wait_until(lambda: _paused_on_disk(path) == [("nightly", 1), ("tick", 0)])
    finally:
        scheduler.stop(grace=1)
        store.close()
    assert any(f"was {how.split(' by ')[0]}" in r.getMessage() for r in caplog.records)
    # At the next start the paused job stays paused: it never runs again.
    scheduler, store = _scheduler(path)
    runs: list[str] = []
    scheduler.add_listener(
        lambda event, **facts: runs.append(facts["run"].job) if event == "run_started" else None
    )
    scheduler.run()
    try:
        time.sleep(0.4)
        assert scheduler.get_job("nightly").paused
    finally:
        scheduler.stop(grace=1)
        store.close()
    assert "tick" in runs and "nightly" not in runs


# -- modes -------------------------------------------------------------------------------------


def test_the_state_file_and_its_companions_are_created_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "new" / "state.db"
        with SQLiteStore(path, flush_interval=None) as store:
            store.record_run(a_run(1))
            store.flush()
            made = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert {str(p): oct(p.stat().st_mode & 0o777) for p in made} == {
                str(p): "0o600" for p in made
            }
            store.acquire()
            made.append(Path(f"{path}.lock"))
            assert {str(p): oct(p.stat().st_mode & 0o777) for p in made} == {
                str(p): "0o600" for p in made
            }
            assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    finally:
        os.umask(old)


# -- the loop never waits on the file ---------------------------------------------------------


def test_history_while_another_process_holds_the_file_does_not_stall_the_fires(
    tmp_path: Path,
) -> None:
    """Another process holds the write lock for 1.5 s while ``sts history`` asks: the
    fires go on every 50 ms (recorded once the lock is gone), none is lost or late."""
    path = tmp_path / "state.db"
    with short_socket_dir() as directory:
        socket_path = directory / "s.sock"
        store = SQLiteStore(path, flush_interval=0.02, success_history=1000)
        scheduler = sts.TaskScheduler(
            name="held", blocking=False, store=store, control_socket=socket_path
        )
        scheduler.schedule(sts.FunctionTask(_nothing, name="tick"), "every 50ms")
        scheduler.run()
        try:
            time.sleep(0.3)
            other = sqlite3.connect(path, isolation_level=None, timeout=10)
            other.execute("BEGIN IMMEDIATE")
            held_from = datetime.now(UTC)
            try:
                time.sleep(0.1)
                answer = request(socket_path, "history", limit=5)
                time.sleep(max(0.0, 1.5 - (datetime.now(UTC) - held_from).total_seconds()))
            finally:
                held_until = datetime.now(UTC)
                other.execute("COMMIT")
                other.close()
            assert "runs" in answer
            time.sleep(0.3)
        finally:
            scheduler.stop(grace=1)
            store.close()
    with SQLiteStore(path, flush_interval=None, success_history=1000) as reader:
        records = reader.history("tick", limit=1000)
    fires = sorted({r.fire_time for r in records})
    during = [f for f in fires if held_from <= f <= held_until]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fires)]
    # No fire is lost: from the first to the last, each 50 ms fire ran or is counted missed
    # (a loaded machine may delay some beyond their grace) ...
    counted = sum(r.missed_count if r.outcome == Outcome.MISSED else 1 for r in records)
    assert counted == round((fires[-1] - fires[0]).total_seconds() / 0.05) + 1, records
    # ... and the fires went on while the lock was held (a stalled loop leaves a 1.5 s gap).
    assert during and max(gaps) < 1.5, (held_from, held_until, max(gaps))


def test_stop_while_another_process_holds_the_file_keeps_the_loop_free_and_commits_before_returning(
    tmp_path: Path,
) -> None:
    """The last commit at stop waits for the lock on a thread: the loop still answers
    meanwhile, and stop returns only once everything buffered is in the file."""
    import asyncio
    import threading

    path = tmp_path / "state.db"
    store = SQLiteStore(path, flush_interval=0.02, success_history=1000)
    scheduler = sts.TaskScheduler(name="held-stop", blocking=False, store=store)
    scheduler.schedule(sts.FunctionTask(_nothing, name="tick"), "every 1h")
    scheduler.run()
    loop = scheduler._thread.loop
    assert loop is not None
    other = sqlite3.connect(path, isolation_level=None, timeout=10)
    try:
        time.sleep(0.2)
        other.execute("BEGIN IMMEDIATE")
        scheduler.pause("tick")  # a write that now waits for the lock
        stopper = threading.Thread(target=scheduler.stop, kwargs={"grace": 1})
        stopper.start()
        time.sleep(0.5)
        # Before, the loop sat in the commit for up to the busy timeout (10 s).
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(timeout=2)
        assert stopper.is_alive()  # stop waits for its commit
    finally:
        other.execute("COMMIT")
        other.close()
    stopper.join(timeout=15)
    assert not stopper.is_alive()
    store.close()
    with SQLiteStore(path, flush_interval=None) as reader:
        assert reader.load_jobs()["tick"].paused

"""The SQLite store: what it keeps, how much of it, and how it refuses a bad file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sts_core.records import Outcome, RunRecord
from sts_core.service import sqlite_store
from sts_core.service.sqlite_store import SCHEMA_VERSION, SQLiteStore, StateStoreError
from sts_core.store import JobState, StateStore

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def record(job: str, index: int, outcome: Outcome = Outcome.SUCCEEDED) -> RunRecord:
    fire = T0 + timedelta(minutes=index)
    return RunRecord(
        run_id=f"{job}-{index}",
        job=job,
        fire_time=fire,
        outcome=outcome,
        started_at=fire,
        finished_at=fire + timedelta(seconds=1.5),
        error=None if outcome is Outcome.SUCCEEDED else f"RuntimeError: {index}",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "state.db", flush_interval=None)
    yield opened
    opened.close()


def test_it_is_a_state_store(store: SQLiteStore) -> None:
    assert isinstance(store, StateStore)


def test_the_file_is_in_wal_mode(store: SQLiteStore) -> None:
    with sqlite3.connect(store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_job_state_survives_reopening(tmp_path: Path) -> None:
    berlin = datetime(2026, 3, 29, 3, 0, tzinfo=UTC).astimezone()
    with SQLiteStore(tmp_path / "s.db", flush_interval=None) as first:
        first.save_job(JobState("a", next_fire=T0, last_fire=berlin, paused=True, schedule="x"))
        first.save_job(JobState("b", schedule="every 1s"))
        first.save_job(JobState("b", next_fire=T0, schedule="every 2s"))
    with SQLiteStore(tmp_path / "s.db", flush_interval=None) as second:
        jobs = second.load_jobs()
    assert jobs == {
        "a": JobState("a", next_fire=T0, last_fire=berlin, paused=True, schedule="x"),
        "b": JobState("b", next_fire=T0, schedule="every 2s"),
    }
    assert jobs["a"].last_fire is not None and jobs["a"].last_fire.utcoffset() == (
        berlin.utcoffset()
    )


def test_a_record_reads_back_whole(store: SQLiteStore) -> None:
    original = RunRecord(
        run_id="r1",
        job="report",
        fire_time=T0,
        outcome=Outcome.FAILED,
        attempt=2,
        started_at=T0 + timedelta(seconds=1),
        finished_at=T0 + timedelta(seconds=4),
        error="ValueError: bad row 7",
        traceback="Traceback (most recent call last): ...",
        retry_at=T0 + timedelta(seconds=6),
        manual=True,
        missed_count=0,
        output={"stderr": "line one\nline two ✓"},
    )
    store.record_run(original)
    [read] = store.history()
    assert read == original
    assert read.duration == 3.0


def test_history_is_newest_first_and_filters(store: SQLiteStore) -> None:
    store.record_run(record("a", 1))
    store.record_run(record("b", 2, Outcome.FAILED))
    store.record_run(record("a", 3, Outcome.TIMED_OUT))
    store.record_run(record("a", 4, Outcome.SKIPPED))
    assert [r.run_id for r in store.history()] == ["a-4", "a-3", "b-2", "a-1"]
    assert [r.run_id for r in store.history("a")] == ["a-4", "a-3", "a-1"]
    assert [r.run_id for r in store.history(failed_only=True)] == ["a-3", "b-2"]
    assert [r.run_id for r in store.history("a", failed_only=True)] == ["a-3"]
    assert [r.run_id for r in store.history(limit=2)] == ["a-4", "a-3"]


def test_history_is_bounded_per_job_and_per_kind(tmp_path: Path) -> None:
    with SQLiteStore(
        tmp_path / "s.db", success_history=3, failure_history=2, flush_interval=None
    ) as store:
        for index in range(10):
            store.record_run(record("a", index))
            store.record_run(record("a", 100 + index, Outcome.FAILED))
            store.record_run(record("b", index))
        kept_a = [r.run_id for r in store.history("a", limit=100)]
        kept_b = [r.run_id for r in store.history("b", limit=100)]
    assert kept_a == ["a-109", "a-9", "a-108", "a-8", "a-7"]
    assert kept_b == ["b-9", "b-8", "b-7"]
    with sqlite3.connect(tmp_path / "s.db") as other:
        assert other.execute("SELECT count(*) FROM runs").fetchone()[0] == 8


def test_failures_beyond_the_limit_do_not_push_out_successes(tmp_path: Path) -> None:
    with SQLiteStore(
        tmp_path / "s.db", success_history=2, failure_history=1, flush_interval=None
    ) as store:
        store.record_run(record("a", 1))
        for index in range(50):
            store.record_run(record("a", 10 + index, Outcome.MISSED))
        assert [r.run_id for r in store.history("a")] == ["a-59", "a-1"]


def test_removing_a_job_forgets_its_history(store: SQLiteStore) -> None:
    store.save_job(JobState("a", schedule="every 1s"))
    store.save_job(JobState("b", schedule="every 1s"))
    store.record_run(record("a", 1))
    store.record_run(record("b", 2))
    store.remove_job("a")
    assert list(store.load_jobs()) == ["b"]
    assert [r.job for r in store.history()] == ["b"]


def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not sqlite at all, just some text " * 100)
    with pytest.raises(StateStoreError) as raised:
        SQLiteStore(path, flush_interval=None)
    assert str(path) in str(raised.value)
    assert "Move the file away" in str(raised.value)


def test_a_file_another_process_keeps_locked_is_refused_without_advice_to_move_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Moving a file another process is writing would lose that process's state: the
    # error names the lock and how to find its holder instead.
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT", 0.5)
    path = tmp_path / "held.db"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(StateStoreError) as raised:
            SQLiteStore(path, flush_interval=None)
        waited = time.monotonic() - started
    finally:
        holder.close()
    message = str(raised.value)
    assert str(path) in message and "kept it locked for 0.5s" in message
    assert "SQLITE_BUSY" in message and f"fuser {path}" in message
    assert "Move the file" not in message
    assert 0.4 < waited < 5, waited  # it waited for the lock, and not much past its bound
    with SQLiteStore(path, flush_interval=None) as store:  # free again: it opens
        store.save_job(JobState("x"))


def test_an_open_refused_busy_tries_again_within_the_busy_timeout_in_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite answers a WAL switch that meets another's SQLITE_BUSY at once: the open tries
    # again, each try waiting at most what is left of BUSY_TIMEOUT.
    waits: list[float] = []
    opened = SQLiteStore._open_connection

    def busy_three_times(store: SQLiteStore, wait: float) -> tuple[sqlite3.Connection, str]:
        waits.append(wait)
        if len(waits) <= 3:
            time.sleep(0.05)  # as if it had waited on the lock
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
            raise error
        return opened(store, wait)

    monkeypatch.setattr(SQLiteStore, "_open_connection", busy_three_times)
    with SQLiteStore(tmp_path / "s.db", flush_interval=None) as store:
        store.save_job(JobState("x"))
    assert len(waits) == 4
    assert waits == sorted(waits, reverse=True) and waits[0] <= sqlite_store.BUSY_TIMEOUT
    assert waits[0] - waits[-1] >= 0.15  # each try had less left than the one before


def test_a_file_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    with sqlite3.connect(path) as other:
        other.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StateStoreError, match="newer than this STS understands"):
        SQLiteStore(path, flush_interval=None)


def test_the_directory_is_created(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a" / "b" / "s.db", flush_interval=None) as store:
        store.save_job(JobState("x"))
    assert (tmp_path / "a" / "b" / "s.db").is_file()


def test_integrity_check_passes_after_many_writes(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db", success_history=5, batch_size=7) as store:
        for index in range(200):
            store.save_job(JobState(f"j{index % 9}", next_fire=T0, schedule="every 1s"))
            store.record_run(record(f"j{index % 9}", index))
        assert store.integrity_check() == ["ok"]


@pytest.mark.parametrize(
    ("option", "value"),
    [("success_history", -1), ("failure_history", "3"), ("batch_size", 0)],
)
def test_bad_options_are_named(tmp_path: Path, option: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"invalid {option}"):
        SQLiteStore(tmp_path / "s.db", flush_interval=None, **{option: value})  # type: ignore[arg-type]


def test_writes_after_close_are_an_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", flush_interval=None)
    store.close()
    store.close()
    with pytest.raises(StateStoreError, match="closed"):
        store.save_job(JobState("x"))


def test_why_a_job_was_set_aside_survives_reopening(tmp_path: Path) -> None:
    reason = "the trigger answered a naive datetime"
    with SQLiteStore(tmp_path / "s.db", flush_interval=None) as first:
        first.save_job(JobState("a", paused=True, schedule="x", paused_reason=reason))
    with SQLiteStore(tmp_path / "s.db", flush_interval=None) as second:
        assert second.load_jobs()["a"].paused_reason == reason


def _schema_1_file(path: Path) -> Path:
    SQLiteStore(path, flush_interval=None).close()
    with sqlite3.connect(path) as old:  # the tables as schema 1 made them
        old.executescript(
            "ALTER TABLE jobs DROP COLUMN paused_reason;"
            "INSERT INTO jobs VALUES ('a', NULL, NULL, 1, 'every 1s');"
            "PRAGMA user_version=1;"
        )
    return path


def test_a_reader_leaves_a_file_of_schema_1_as_it_is(tmp_path: Path) -> None:
    # `sts history` of a newer STS beside an older one still running: the older must keep
    # the file it can open.
    path = _schema_1_file(tmp_path / "old.db")
    with SQLiteStore(path, flush_interval=None) as reader:
        assert reader.load_jobs() == {"a": JobState("a", paused=True, schedule="every 1s")}
        assert reader.history() == []
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_file_of_schema_1_is_upgraded_by_its_writer_at_the_start(tmp_path: Path) -> None:
    path = _schema_1_file(tmp_path / "old.db")
    with SQLiteStore(path, flush_interval=None) as store:
        store.acquire()
        with sqlite3.connect(path) as check:
            assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_file_of_schema_1_is_upgraded_keeping_its_jobs_and_runs(tmp_path: Path) -> None:
    path = _schema_1_file(tmp_path / "old.db")
    with SQLiteStore(path, flush_interval=None) as store:
        assert store.load_jobs() == {"a": JobState("a", paused=True, schedule="every 1s")}
        store.save_job(JobState("a", paused=True, schedule="every 1s", paused_reason="broken"))
    with SQLiteStore(path, flush_interval=None) as again:
        assert again.load_jobs()["a"].paused_reason == "broken"
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION

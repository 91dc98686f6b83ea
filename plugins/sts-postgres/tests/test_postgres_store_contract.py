"""The postgres store keeps what the SQLite store keeps, the same way: job state, a
bounded history per job and kind, runs in flight; and refuses bad input by name."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from postgres_helpers import query
from sts_postgres import PostgresStore, StateStoreError
from sts_postgres.sql import LATEST_VERSION

import sts

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(dsn: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(dsn, group="contract")
    yield opened
    opened.close()


def record(job: str, n: int, outcome: sts.Outcome = sts.Outcome.SUCCEEDED) -> sts.RunRecord:
    return sts.RunRecord(f"{job}-{n}", job, T0 + timedelta(seconds=n), outcome, manual=True)


def test_it_is_a_durable_claiming_store(store: PostgresStore) -> None:
    assert isinstance(store, sts.StateStore)
    assert isinstance(store, sts.DurableStore)
    assert isinstance(store, sts.ClaimingStore)
    assert isinstance(store, sts.AttemptLookup)


def test_an_attempts_outcomes_are_the_groups_whichever_replica_recorded_them(
    dsn: str, store: PostgresStore
) -> None:
    """A replica that took over another's attempt recorded it interrupted; the replica that
    receives the worker's outcome sees that record (and only that attempt's)."""
    interrupted = record("a", 1, sts.Outcome.INTERRUPTED)
    store.record_run(interrupted)
    store.record_run(sts.RunRecord("a-1", "a", T0, sts.Outcome.FAILED, attempt=2))
    store.record_run(record("b", 1))
    store.flush()
    other = PostgresStore(dsn, group="contract")
    try:
        assert other.attempt_records("a", "a-1", 1) == [interrupted]
        other.record_run(record("a", 1))
        other.flush()
        assert store.attempt_records("a", "a-1", 1) == [interrupted, record("a", 1)]
        assert [r.outcome for r in store.attempt_records("a", "a-1", 2)] == [sts.Outcome.FAILED]
        assert store.attempt_records("a", "nosuch", 1) == []
    finally:
        other.close()


def test_job_state_survives_reopening(dsn: str, store: PostgresStore) -> None:
    store.save_job(sts.JobState("a", T0, T0 - timedelta(seconds=1), True, "every 1s"))
    store.flush()
    again = PostgresStore(dsn, group="contract")
    try:
        assert again.load_jobs() == {
            "a": sts.JobState("a", T0, T0 - timedelta(seconds=1), True, "every 1s")
        }
    finally:
        again.close()


def test_groups_do_not_see_each_other(dsn: str, store: PostgresStore) -> None:
    store.save_job(sts.JobState("a", T0, None, False, "every 1s"))
    store.record_run(record("a", 1))
    store.flush()
    other = PostgresStore(dsn, group="another")
    try:
        assert other.load_jobs() == {}
        assert other.history() == []
    finally:
        other.close()


def test_a_record_reads_back_whole(store: PostgresStore) -> None:
    written = sts.RunRecord(
        run_id="r1",
        job="a",
        fire_time=T0,
        outcome=sts.Outcome.FAILED,
        attempt=2,
        started_at=T0 + timedelta(seconds=1),
        finished_at=T0 + timedelta(seconds=2),
        error="ValueError: no",
        traceback="Traceback...",
        retry_at=T0 + timedelta(seconds=10),
        manual=True,
        missed_count=0,
        output={"stdout": "hello"},
    )
    store.record_run(written)
    assert store.history() == [written]


def test_history_is_newest_first_and_filters(store: PostgresStore) -> None:
    store.record_run(record("a", 1))
    store.record_run(record("b", 2, sts.Outcome.FAILED))
    store.record_run(record("a", 3))
    assert [r.run_id for r in store.history()] == ["a-3", "b-2", "a-1"]
    assert [r.run_id for r in store.history("a")] == ["a-3", "a-1"]
    assert [r.run_id for r in store.history(failed_only=True)] == ["b-2"]
    assert [r.run_id for r in store.history(limit=1)] == ["a-3"]


def test_history_is_bounded_per_job_and_per_kind(dsn: str) -> None:
    store = PostgresStore(dsn, group="bounded", success_history=3, failure_history=2)
    try:
        for n in range(10):
            store.record_run(record("a", n))
            store.record_run(record("a", 100 + n, sts.Outcome.FAILED))
            store.record_run(record("b", n))
        store.flush()
        kept = store.history("a", limit=100)
        assert [r.run_id for r in kept if r.outcome is sts.Outcome.SUCCEEDED] == [
            "a-9",
            "a-8",
            "a-7",
        ]
        assert [r.run_id for r in kept if r.outcome is sts.Outcome.FAILED] == ["a-109", "a-108"]
        assert len(store.history("b", limit=100)) == 3
    finally:
        store.close()


def test_removing_a_job_forgets_its_state_not_the_groups_history(store: PostgresStore) -> None:
    store.save_job(sts.JobState("a", T0, None, False, "every 1s"))
    store.record_run(record("a", 1))
    store.remove_job("a")
    assert store.load_jobs() == {}
    # Other replicas of the group may still define it: its (bounded) history stays.
    assert [r.run_id for r in store.history("a")] == ["a-1"]


def test_runs_in_flight_until_recorded(store: PostgresStore) -> None:
    run = sts.RunContext("r1", "a", T0, 1, T0, False)
    store.run_started(run)
    [(found, replica)] = store.runs_in_flight()
    assert (found.run_id, found.job, found.fire_time, replica) == ("r1", "a", T0, store.replica)
    store.record_run(sts.RunRecord("r1", "a", T0, sts.Outcome.SUCCEEDED))
    assert store.runs_in_flight() == []


def test_the_schema_is_versioned(dsn: str, store: PostgresStore) -> None:
    assert query(dsn, "SELECT max(version) FROM sts_schema_version") == [(LATEST_VERSION,)]


def test_a_database_from_a_newer_plugin_is_refused(dsn: str, store: PostgresStore) -> None:
    query(dsn, "INSERT INTO sts_schema_version VALUES (%s, 'from the future')", LATEST_VERSION + 1)
    with pytest.raises(StateStoreError, match="newer than this sts-postgres"):
        PostgresStore(dsn, group="contract")


def test_without_auto_migrate_a_bare_database_is_refused_with_the_command(dsn: str) -> None:
    with pytest.raises(StateStoreError, match="run `sts db upgrade`"):
        PostgresStore(dsn, auto_migrate=False)


def test_an_unreachable_server_is_named_without_its_password() -> None:
    with pytest.raises(StateStoreError) as raised:
        PostgresStore("postgresql://someone:hunter22@127.0.0.1:1/nowhere", connect_timeout=1)
    assert "someone@127.0.0.1:1/nowhere" in str(raised.value)
    assert "hunter22" not in str(raised.value)


@pytest.mark.parametrize(
    ("option", "value"),
    [("success_history", -1), ("failure_history", "3"), ("batch_size", 0), ("pool_size", 1)],
)
def test_bad_options_are_named(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=option):
        PostgresStore("postgresql://127.0.0.1:1/x", **{option: value})  # type: ignore[arg-type]


def test_writes_after_close_are_an_error(dsn: str) -> None:
    store = PostgresStore(dsn)
    store.close()
    store.close()  # twice is a no-op
    with pytest.raises(StateStoreError, match="closed"):
        store.save_job(sts.JobState("a", T0, None, False, "every 1s"))


def test_writes_that_fail_are_kept_and_written_once_the_database_takes_them(
    dsn: str, store: PostgresStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.record_run(record("a", 1))
    store.flush()  # the schema is there, the writer running
    query(dsn, "ALTER TABLE sts_runs RENAME TO sts_runs_away")
    try:
        with caplog.at_level("WARNING", logger="sts.postgres"):
            store.record_run(record("a", 2))
            _wait_until(lambda: store.failing is not None, "the writer to fail")
            assert "sts_runs" in str(store.failing)
    finally:
        query(dsn, "ALTER TABLE sts_runs_away RENAME TO sts_runs")
    with caplog.at_level("WARNING", logger="sts.postgres"):
        _wait_until(lambda: store.failing is None, "the writer to write again")
    assert [r.run_id for r in store.history()] == ["a-2", "a-1"]  # kept, written once
    messages = [r.getMessage() for r in caplog.records if r.name == "sts.postgres"]
    # The outage is said once (not on every retry), and its end once.
    assert sum("the writes are kept and tried again" in m for m in messages) == 1
    assert sum("is written again" in m for m in messages) == 1


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)

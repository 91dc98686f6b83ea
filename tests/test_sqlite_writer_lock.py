"""One writer per state file: a second scheduler on the same file is refused before it
recovers or fires anything, with an error naming the file and the holder."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import time
from pathlib import Path

import pytest

import sts
from sts_core.service.sqlite_store import SQLiteStore, StoreInUseError


def _in_flight(path: Path) -> list[tuple[str, int]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT job, pid FROM runs_in_flight").fetchall()
    finally:
        connection.close()


def _wait_until(condition: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_second_scheduler_on_the_same_file_is_refused_and_touches_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    first_runs: list[str] = []
    second_runs: list[str] = []

    async def slow() -> None:
        first_runs.append(sts.current_run().run_id)
        await asyncio.sleep(0.5)

    async def quick() -> None:
        second_runs.append(sts.current_run().run_id)

    first_store = SQLiteStore(path, flush_interval=0.02)
    first = sts.TaskScheduler(name="first", blocking=False, store=first_store)
    first.schedule(sts.FunctionTask(slow, name="work"), "every 100ms")
    first.run()
    second_store = SQLiteStore(path, flush_interval=0.02)
    try:
        _wait_until(lambda: _in_flight(path))  # the first's run is in flight, on disk
        second = sts.TaskScheduler(name="second", blocking=False, store=second_store)
        second.schedule(sts.FunctionTask(quick, name="work"), "every 10ms")
        with pytest.raises(StoreInUseError) as refused:
            second.run()
        message = str(refused.value)
        assert re.fullmatch(
            rf"the state database {re.escape(str(path))} is in use by another scheduler "
            rf"\(pid {os.getpid()} on host {re.escape(socket.gethostname())}\): .*",
            message,
        ), message
        # Refused before anything: it neither fired nor marked the live run interrupted.
        time.sleep(0.1)
        assert second_runs == []
        assert not second.running
        assert _in_flight(path) != []
        assert [r.outcome for r in first_store.history() if r.outcome.value == "interrupted"] == []
    finally:
        first.stop(grace=2)
        first_store.close()
        second_store.close()
    assert first_runs


def test_the_lock_is_released_when_the_store_closes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore(path) as store:
        store.acquire()
        store.acquire()  # the holder taking it again is a no-op
        with SQLiteStore(path) as other, pytest.raises(StoreInUseError):
            other.acquire()
    with SQLiteStore(path) as store:
        store.acquire()


def test_readers_need_no_lock(tmp_path: Path) -> None:
    """``sts history`` and other readers open the file while a scheduler holds it."""
    path = tmp_path / "state.db"
    with SQLiteStore(path) as writer:
        writer.acquire()
        with SQLiteStore(path, flush_interval=None) as reader:
            assert reader.history() == []

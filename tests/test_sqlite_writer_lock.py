"""One writer per state file: a second scheduler on the same file is refused before it
recovers or fires anything, with an error naming the file and the holder."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

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


def _open_at_the_barrier(path: Path, barrier: Any, outcomes: Any) -> None:
    try:
        barrier.wait(timeout=10)
    except Exception as error:  # the other opener never came: reported, not hung on
        outcomes.put(f"barrier: {error!r}")
        return
    try:
        SQLiteStore(path, flush_interval=None).close()
    except Exception as error:  # reported to the parent, which asserts on it
        outcomes.put(f"{type(error).__name__}: {error}")
    else:
        outcomes.put("opened")


def test_two_processes_opening_a_new_file_at_once_both_open_it(tmp_path: Path) -> None:
    # Both ask SQLite for WAL mode on the empty file at the same moment; SQLite refuses one
    # of them SQLITE_BUSY without waiting, which the second scheduler of a pair started
    # together reported instead of "in use by another scheduler" (before the open retried).
    context = multiprocessing.get_context("fork")
    outcomes: list[str] = []
    for attempt in range(100):  # about 1 s; 20 pairs missed the race in half the runs
        barrier, queue = context.Barrier(2), context.Queue()
        path = tmp_path / f"new-{attempt}.db"
        openers = [
            context.Process(target=_open_at_the_barrier, args=(path, barrier, queue), daemon=True)
            for _ in range(2)
        ]
        try:
            for opener in openers:
                opener.start()
            for opener in openers:
                opener.join(timeout=30)
            outcomes += [queue.get(timeout=5) for _ in openers]
        finally:
            for opener in openers:
                if opener.is_alive():
                    opener.kill()
                    opener.join()
    assert outcomes == ["opened"] * 200, [outcome for outcome in outcomes if outcome != "opened"]

"""Stopping commands: a timeout or a cancelled run ends the whole process tree.

Real processes on a real event loop with timeouts of a few hundred milliseconds: a
subprocess does real work, so virtual time must not jump past it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from sts_shell import ShellTask

import sts

RunJob = Callable[..., Coroutine[Any, Any, tuple[sts.RunRecord, list[sts.RunRecord]]]]
IsGone = Callable[[int], bool]

# A child and, one level further down, a grandchild of the command, each printing its pid.
PROCESS_TREE = "sleep 30 & echo $!; sh -c 'sleep 30 & echo $!; wait' & wait"


def pids_in(text: str) -> list[int]:
    return [int(word) for word in text.split() if word.isdigit()]


def test_a_timeout_kills_the_whole_process_tree(run_job: RunJob, is_gone: IsGone) -> None:
    task = ShellTask(["sh", "-c", PROCESS_TREE], kill_grace="5s")
    started = time.monotonic()
    record, _ = asyncio.run(run_job(task, timeout="300ms"))
    elapsed = time.monotonic() - started
    assert record.outcome is sts.Outcome.TIMED_OUT
    assert record.error == "timed out after 0.3s"
    pids = pids_in(record.output["stdout"])
    assert len(pids) == 2
    assert all(is_gone(pid) for pid in pids), [pid for pid in pids if not is_gone(pid)]
    assert record.output["stop"] == "stopped with SIGTERM"
    assert elapsed < 3  # SIGTERM was enough: no wait for the 5s kill_grace


def test_a_command_that_ignores_sigterm_is_killed_after_kill_grace(
    run_job: RunJob, is_gone: IsGone
) -> None:
    # Ignored signals stay ignored across fork and exec: every sleep ignores SIGTERM too.
    script = "trap '' TERM; echo $$; while :; do sleep 0.05; done"
    task = ShellTask(["sh", "-c", script], kill_grace="300ms")
    record, _ = asyncio.run(run_job(task, timeout="200ms"))
    assert record.outcome is sts.Outcome.TIMED_OUT
    assert record.output["stop"] == (
        "killed with SIGKILL: it outlived SIGTERM by kill_grace (0.3s)"
    )
    assert record.duration is not None and record.duration >= 0.45
    assert all(is_gone(pid) for pid in pids_in(record.output["stdout"]))


def test_processes_left_behind_by_a_finished_command_are_stopped(
    run_job: RunJob, is_gone: IsGone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sts.shell")
    # The background sleep also holds stdout open: without stopping it, reading the
    # output would wait 30 seconds for its end.
    task = ShellTask(["sh", "-c", "sleep 30 & echo $!"], kill_grace="5s")
    started = time.monotonic()
    record, _ = asyncio.run(run_job(task))
    assert record.outcome is sts.Outcome.SUCCEEDED
    assert time.monotonic() - started < 3
    [pid] = pids_in(record.output["stdout"])
    assert is_gone(pid)
    assert f"left 1 process(es) in its group (pids {pid}); stopping them" in caplog.text


def test_stopping_the_scheduler_cancels_the_run_and_kills_its_processes(
    tmp_path: Path, is_gone: IsGone
) -> None:
    pid_file = tmp_path / "pids"
    script = f"echo $$ > {pid_file}.tmp; sleep 30 & echo $! >> {pid_file}.tmp; "
    script += f"mv {pid_file}.tmp {pid_file}; wait"

    async def main() -> tuple[sts.RunRecord, list[sts.RunRecord]]:
        async with sts.TaskScheduler() as scheduler:
            job = scheduler.schedule(ShellTask(["sh", "-c", script]), sts.IntervalTrigger("1h"))
            future = asyncio.wrap_future(scheduler.run_now(job))
            for _ in range(500):
                if pid_file.exists():
                    break
                await asyncio.sleep(0.01)
            await scheduler.stop(grace=0)
            return await future, scheduler.store.history()

    record, history = asyncio.run(main())
    assert record.outcome is sts.Outcome.CANCELLED
    assert record.error == "cancelled: the scheduler stopped"
    assert history == [record]
    pids = pids_in(pid_file.read_text())
    assert len(pids) == 2
    assert all(is_gone(pid) for pid in pids)


def test_cancelling_a_directly_awaited_run_also_kills_the_tree(
    tmp_path: Path, is_gone: IsGone
) -> None:
    pid_file = tmp_path / "pids"

    async def main() -> None:
        command = ShellTask(["sh", "-c", f"exec > {pid_file}; {PROCESS_TREE}"])
        run = asyncio.create_task(command.run())
        for _ in range(500):
            if len(pids_in(pid_file.read_text() if pid_file.exists() else "")) == 2:
                break
            await asyncio.sleep(0.01)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run

    asyncio.run(main())
    pids = pids_in(pid_file.read_text())
    assert len(pids) == 2
    assert all(is_gone(pid) for pid in pids)


def test_a_process_that_left_the_group_cannot_hold_the_run_open(
    run_job: RunJob, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sts_shell.task.DRAIN_TIMEOUT", 0.2)
    caplog.set_level(logging.WARNING, logger="sts.shell")
    # setsid puts the sleep in a session (and group) of its own, with our stdout.
    task = ShellTask(["sh", "-c", "setsid sh -c 'echo $$; exec sleep 30' & sleep 0.1"])
    started = time.monotonic()
    record, _ = asyncio.run(run_job(task))
    try:
        assert record.outcome is sts.Outcome.SUCCEEDED
        assert time.monotonic() - started < 2
        assert "still holds its output open" in caplog.text
    finally:
        for pid in pids_in(record.output.get("stdout", "")):
            os.kill(pid, signal.SIGKILL)

"""The control socket's life: its file, its mode, stale files, and the event stream."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from control_helpers import running_scheduler, short_socket_dir, succeed

import sts
from sts_core.service.control import ControlClient, request


def _tick(scheduler: sts.TaskScheduler) -> None:
    scheduler.schedule(sts.FunctionTask(succeed, name="tick"), "every 50ms", name="tick")


def test_the_socket_is_private_to_the_user_and_removed_at_stop() -> None:
    with running_scheduler(_tick) as (_, path):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert stat.S_ISSOCK(path.stat().st_mode)
    assert mode == 0o600
    assert not path.exists()
    with pytest.raises(FileNotFoundError):
        request(path, "hello")


def test_a_socket_left_by_a_killed_scheduler_is_replaced() -> None:
    program = (
        "import sys, sts\n"
        "s = sts.TaskScheduler(control_socket=sys.argv[1])\n"
        "s.schedule(sts.FunctionTask(lambda: None, name='t'), 'every 1h')\n"
        "s.run()\n"
    )
    with short_socket_dir() as directory:
        path = directory / "control.sock"
        process = subprocess.Popen(
            [sys.executable, "-c", program, str(path)], stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 15
            while not path.exists():
                assert process.poll() is None and time.monotonic() < deadline, "no socket"
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        assert path.exists()  # nobody removed it: the process was killed
        with pytest.raises(ConnectionRefusedError):
            request(path, "hello")
        scheduler = sts.TaskScheduler(blocking=False, control_socket=path, name="second")
        scheduler.run()
        try:
            assert request(path, "hello")["scheduler"] == "second"
        finally:
            scheduler.stop()


def test_a_second_scheduler_on_a_live_socket_is_refused_and_the_first_keeps_it() -> None:
    with running_scheduler(_tick) as (_, path):
        second = sts.TaskScheduler(control_socket=path, name="second")

        async def start() -> None:
            await second.start()

        with pytest.raises(RuntimeError, match="another scheduler already listens"):
            asyncio.run(start())
        assert request(path, "hello")["scheduler"] == "control-test"


def test_a_path_that_is_not_a_socket_is_left_alone() -> None:
    with short_socket_dir() as directory:
        path = directory / "notes.txt"
        path.write_text("keep me")
        scheduler = sts.TaskScheduler(control_socket=path)
        with pytest.raises(FileExistsError, match="exists and is not a socket"):
            asyncio.run(scheduler.start())
        assert path.read_text() == "keep me"


def test_control_socket_true_uses_the_user_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    with short_socket_dir() as directory:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
        expected = sts.default_control_socket("runtime-test")
        assert expected.is_relative_to(directory)
        scheduler = sts.TaskScheduler(blocking=False, control_socket=True, name="runtime-test")
        scheduler.run()
        try:
            assert request(expected, "hello")["scheduler"] == "runtime-test"
        finally:
            scheduler.stop()


def test_subscribers_get_run_and_job_events_with_the_jobs_row() -> None:
    async def follow(path: Path) -> list[dict[str, object]]:
        events: list[dict[str, object]] = []
        async with ControlClient(path) as client:
            await client.subscribe()
            await client.request("pause", job="tick")
            await client.request("resume", job="tick")
            async for event in client.events():
                events.append(event)
                if event["event"] == "run_finished":
                    break
        return events

    with running_scheduler(_tick) as (_, path):
        events = asyncio.run(follow(path))
    names = [event["event"] for event in events]
    assert names[:2] == ["job_changed", "job_changed"]
    changes = [event["data"]["change"] for event in events[:2]]  # type: ignore[index]
    assert changes == ["paused", "resumed"]
    assert names[-2:] == ["run_started", "run_finished"]
    finished = events[-1]["data"]
    assert finished["record"]["outcome"] == "succeeded"  # type: ignore[index]
    # The row travels with the event, already counting this run and no longer running it.
    assert finished["job"]["running"] == 0 and finished["job"]["succeeded"] >= 1  # type: ignore[index]


def test_the_event_stream_ends_with_connection_error_when_the_scheduler_stops() -> None:
    async def main() -> None:
        with short_socket_dir() as directory:
            path = directory / "control.sock"
            scheduler = sts.TaskScheduler(control_socket=path)
            _tick(scheduler)
            await scheduler.start()
            client = ControlClient(path)
            await client.connect()
            await client.subscribe(["job_changed"])
            await scheduler.stop()
            with pytest.raises(ConnectionError):
                async for _ in client.events():
                    pass
            with pytest.raises(ConnectionError):
                await client.request("stats")
            await client.close()

    asyncio.run(main())


def test_a_listener_sees_its_own_scheduler_only() -> None:
    seen: dict[str, list[str]] = {"a": [], "b": []}

    async def main() -> None:
        first, second = sts.TaskScheduler(name="a"), sts.TaskScheduler(name="b")
        for scheduler in (first, second):
            name = scheduler.name
            scheduler.add_listener(lambda event, _name=name, **facts: seen[_name].append(event))
        first.schedule(sts.FunctionTask(succeed, name="t"), "every 10ms")
        async with first, second:
            await asyncio.sleep(0.05)

    asyncio.run(main())
    assert "run_started" in seen["a"] and "run_finished" in seen["a"]
    assert seen["b"] == []


def test_a_failing_listener_is_logged_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: str, **facts: object) -> None:
        raise ValueError("listener bug")

    async def main() -> sts.RunRecord:
        scheduler = sts.TaskScheduler()
        scheduler.add_listener(broken)
        async with scheduler:
            return await asyncio.wrap_future(scheduler.run_now(sts.FunctionTask(succeed)))

    record = asyncio.run(main())
    assert record.outcome == "succeeded"
    assert "a scheduler listener failed on run_started" in caplog.text


def test_the_socket_path_length_limit_is_explained() -> None:
    path = Path("/tmp") / ("x" * 120) / "control.sock"
    scheduler = sts.TaskScheduler(control_socket=path)
    with pytest.raises(ValueError, match="at most 107: choose a shorter one"):
        asyncio.run(scheduler.start())
    assert not os.path.exists(path.parent)


def test_a_control_server_wraps_a_scheduler_from_outside() -> None:
    # The composition TaskScheduler(control_socket=...) stands for: the socket is bound
    # before the first fire and answers until the last run has finished.
    async def main() -> tuple[dict[str, object], bool, bool]:
        with short_socket_dir() as directory:
            path = directory / "control.sock"
            scheduler = sts.TaskScheduler(name="composed")
            _tick(scheduler)
            async with sts.ControlServer(scheduler, path), scheduler:
                client = ControlClient(path)
                await client.connect()
                hello = await client.request("hello")
                await client.close()
                listening = path.exists()
            return hello, listening, path.exists()

    hello, listening, left_behind = asyncio.run(main())
    assert hello["scheduler"] == "composed"
    assert listening and not left_behind

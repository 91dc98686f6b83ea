"""A real scheduler process on a temporary control socket, for the UI tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

#: The default jobs: one that succeeds often, one that always fails, one that waits.
JOBS = """
async def tick():
    pass

async def boom():
    raise RuntimeError("boom")

scheduler.schedule(sts.FunctionTask(tick, name="tick"), "every 300ms", name="tick")
scheduler.schedule(sts.FunctionTask(boom, name="boom"), "every 300ms", name="boom")
scheduler.schedule(sts.FunctionTask(tick, name="hourly"), "every 1h", name="hourly")
"""

PROGRAM = """
import sys
import sts

scheduler = sts.TaskScheduler(name="tui-test", control_socket=sys.argv[1], timezone="UTC")
{jobs}
scheduler.run()
"""


#: The scheduler behind a control server that drops a subscriber past 8 MiB of unread
#: events (the default is 64 MiB): a client must keep reading while it loads.
SMALL_BUFFER_PROGRAM = """
import asyncio
import sys
from pathlib import Path

import sts

scheduler = sts.TaskScheduler(name="tui-test", timezone="UTC")
{jobs}

async def main():
    server = sts.ControlServer(scheduler, Path(sys.argv[1]), max_pending_bytes=8 * 2**20)
    async with server, scheduler:
        await asyncio.Event().wait()

asyncio.run(main())
"""


class SchedulerProcess:
    """``python -c PROGRAM``: a scheduler listening on ``path``; start, stop, start again."""

    def __init__(self, path: Path, jobs: str, log: Path, program: str = PROGRAM) -> None:
        self.path = path
        self.program = program.format(jobs=textwrap.dedent(jobs))
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        with self.log.open("ab") as log:
            # Warnings and errors only: logging every run would slow 10,000 jobs down.
            self.process = subprocess.Popen(
                [sys.executable, "-c", self.program, str(self.path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "LOG_LEVEL": "WARNING"},
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                sts_request(self.path, "hello")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"the scheduler process did not start:\n{self.log.read_text()}"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def sts_request(path: Path, command: str, **arguments: object) -> dict[str, Any]:
    from sts import control_request  # the same client the sts commands use

    return control_request(path, command, timeout=5.0, **arguments)


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # Short: a Unix socket path may have at most 107 bytes, pytest's tmp_path can be longer.
    directory = Path(tempfile.mkdtemp(prefix="sts-tui-", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def scheduler_factory(socket_dir: Path) -> Iterator[Callable[..., SchedulerProcess]]:
    started: list[SchedulerProcess] = []

    def make(
        jobs: str = JOBS, *, start: bool = True, small_buffer: bool = False
    ) -> SchedulerProcess:
        program = SMALL_BUFFER_PROGRAM if small_buffer else PROGRAM
        process = SchedulerProcess(
            socket_dir / "s.sock", jobs, socket_dir / "scheduler.log", program
        )
        started.append(process)
        if start:
            process.start()
        return process

    yield make
    for process in started:
        process.stop()


async def wait_until(pilot: Pilot[object], condition: Callable[[], object], what: str) -> None:
    """Let the app run until ``condition()`` holds; fail naming ``what`` after 15 s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15.0
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


@pytest.fixture
def until() -> Callable[..., Awaitable[None]]:
    """``await until(pilot, condition, what)``: see :func:`wait_until`."""
    return wait_until


@pytest.fixture
def control() -> Callable[..., dict[str, Any]]:
    """``control(path, command, **arguments)``: the blocking control client."""
    return sts_request

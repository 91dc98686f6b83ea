"""``sts run --tui``: a plugin's front end runs with the scheduler in one process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import sts
from sts_core.service.cli import main

CONFIG = """
[scheduler]
name = attached
state = memory

[job:greet]
type = python
callable = builtins:print
schedule = every 100ms
"""


class FrontEnd:
    """A front end that runs the scheduler for a moment, as a UI would until quit."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def attach(self, scheduler: sts.TaskScheduler) -> int:
        async def show() -> None:
            async with scheduler:
                await asyncio.sleep(0.35)
            self.seen.extend(record.job for record in scheduler.store.history())

        asyncio.run(show())
        return 7

    @sts.hookimpl
    def sts_register_commands(self, register: Any) -> None:
        register("peek", lambda parser: None, lambda args: 0, help="peek", attach=self.attach)


def test_run_attached_hands_the_configured_scheduler_to_the_front_end(
    tmp_path: Path, register_plugin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sts_core.service.cli import run_command

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # the control socket's directory
    front_end = FrontEnd()
    register_plugin(front_end, name="peek-plugin")
    config = tmp_path / "attached.ini"
    config.write_text(CONFIG)
    # `--tui` names the terminal UI's command; here the throwaway front end stands in.
    monkeypatch.setattr(run_command, "FRONT_END", "peek")
    assert main(["run", "--tui", str(config)]) == 7
    assert front_end.seen.count("greet") >= 2


def test_a_front_end_that_is_not_installed_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sts_core.service.cli import run_command

    config = tmp_path / "attached.ini"
    config.write_text(CONFIG)
    monkeypatch.setattr(run_command, "FRONT_END", "nothing-like-it")
    assert main(["run", "--tui", str(config)]) == 2
    error = capsys.readouterr().err
    assert "no command 'nothing-like-it' is installed (needed by sts run --tui)" in error


def test_sts_run_tui_shows_the_jobs_in_a_real_terminal(tmp_path: Path) -> None:
    """The real thing: `sts run --tui` in a pseudo-terminal, quit with `q`."""
    import fcntl
    import os
    import select
    import struct
    import subprocess
    import termios
    import time

    from cli_helpers import STS, sts_environment

    config = tmp_path / "attached.ini"
    config.write_text(
        "[scheduler]\nname = tty\nstate = memory\n\n"
        "[job:heartbeat]\ntype = python\ncallable = time:time\nschedule = every 200ms\n"
    )
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    with sts_environment(tmp_path) as env:
        process = subprocess.Popen(
            [str(STS), "run", "--tui", str(config)],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env={**env.env, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(follower)
        screen = b""
        deadline = time.monotonic() + 30
        try:
            while b"heartbeat" not in screen or b"succeeded" not in screen:
                assert time.monotonic() < deadline, screen[-2000:]
                ready, _, _ = select.select([leader], [], [], 0.5)
                if ready:
                    screen += os.read(leader, 65536)
            os.write(leader, b"q")
            while process.poll() is None and time.monotonic() < deadline:
                ready, _, _ = select.select([leader], [], [], 0.2)
                if ready:
                    try:
                        screen += os.read(leader, 65536)
                    except OSError:
                        break
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
            os.close(leader)

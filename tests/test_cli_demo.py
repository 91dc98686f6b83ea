"""``sts demo``: reachable like any scheduler (its control socket), and its lines whole."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from cli_helpers import sts_environment, wait_for

from sts_core.service.cli import demo
from sts_core.service.cli.failures import BROKEN_PIPE


def test_the_demo_answers_trigger_and_jobs_beside_another_config(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        # A project's own sts.ini in the same directory must not leak into the demo's view.
        sts.write(
            "sts.ini",
            "[job:backup]\ntype = python\ncallable = os:getcwd\nschedule = every 1h\n",
        )
        process = sts.start("demo")
        wait_for(sts.socket("demo").exists, what="the demo's control socket", process=process)
        jobs = sts.run("jobs", "--name", "demo")
        assert jobs.returncode == 0, jobs.stderr
        assert "not running" not in jobs.stderr
        names = [line.split()[0] for line in jobs.stdout.splitlines()[1:]]
        assert sorted(names) == ["clock", "hello", "slow"]
        triggered = sts.run("trigger", "hello", "--name", "demo", "--wait")
        assert triggered.returncode == 0, triggered.stderr
        assert triggered.stdout.startswith("hello: succeeded")
        code, out, _ = sts.stop(process)
        assert code == 0 and "Hello from STS!" in out


class _OneWriteAtATime(io.StringIO):
    """stdout that hands the GIL to other threads inside every write, the way a slow
    terminal does, so that a line written in two pieces gets split by another thread's."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        threading.Event().wait(0.0005)  # let another thread run between two writes
        return super().write(text)


def test_demo_lines_from_threads_and_the_loop_never_interleave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = _OneWriteAtATime()
    monkeypatch.setattr("sys.stdout", out)
    threads = [
        threading.Thread(target=lambda n=n: [demo._say(f"job{n}", "x" * 40) for _ in range(20)])
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 80
    assert all(line.endswith(" " + "x" * 40) and line.count("job") == 1 for line in lines)


def test_the_demo_stops_when_its_reader_goes_away(tmp_path: Path) -> None:
    # `sts demo | head -3`: once head has its lines, the demo must not run on unseen.
    with sts_environment(tmp_path) as sts:
        process = sts.start("demo")
        assert process.stdout is not None and process.stderr is not None
        while "Meanwhile" not in process.stdout.readline():
            pass
        process.stdout.close()
        process.wait(timeout=30)
        stderr = process.stderr.read()
        assert process.returncode == BROKEN_PIPE, stderr
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr

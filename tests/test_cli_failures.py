"""Expected failures of the ``sts`` command: one ``sts CMD: error: ...`` line on stderr,
the documented exit code, never a traceback; and output cut short by its reader
(``sts jobs | head -1``) ends quietly."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest
from cli_helpers import sts_environment, wait_for

from sts_core.service.cli.failures import BROKEN_PIPE, expected_failure

CONFIG = """
[scheduler]
name = twice
timezone = UTC

[job:tick]
type = python
callable = builtins:print
schedule = every 1h
"""


def one_error_line(result: subprocess.CompletedProcess[str], command: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"sts {command}: error: "), lines[0]
    return lines[0]


def test_a_second_run_of_a_running_scheduler_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("sts.ini", CONFIG)
        first = sts.start("run")
        wait_for(sts.socket("twice").exists, what="the control socket", process=first)
        second = sts.run("run")
        assert second.returncode == 2
        line = one_error_line(second, "run")
        # The state file's lock is taken first, before the control socket is bound.
        assert "is in use by another scheduler (pid " in line
        assert first.poll() is None  # the first one was not disturbed
        code, _, _ = sts.stop(first)
        assert code == 0


def test_a_second_demo_is_refused_the_same_way(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        first = sts.start("demo")
        wait_for(sts.socket("demo").exists, what="the demo's control socket", process=first)
        second = sts.run("demo", "--duration", "5")
        assert second.returncode == 2
        assert "is in use by another scheduler (pid " in one_error_line(second, "demo")


def block(directory: Path) -> None:
    """Make ``directory/sts``, where STS keeps its files, unusable: root may write
    anywhere, but a directory that is a regular file fails for everyone."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sts").write_text("not a directory")


def test_an_unusable_runtime_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("sts.ini", CONFIG)
        block(sts.runtime)
        result = sts.run("run")
        assert result.returncode == 2
        assert str(sts.runtime / "sts") in one_error_line(result, "run")


def test_an_unusable_state_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("sts.ini", CONFIG)
        block(sts.root / "data")
        for command in (["run"], ["demo", "--duration", "1"]):
            result = sts.run(*command)
            assert result.returncode == 2
            assert str(sts.root / "data" / "sts") in one_error_line(result, command[0])


def test_a_bug_keeps_its_traceback() -> None:
    assert expected_failure(ZeroDivisionError("bug")) is None
    assert expected_failure(OSError(errno.EIO, "I/O error")) is None
    assert expected_failure(PermissionError(errno.EACCES, "Permission denied", "/x")) == (
        "permission denied: /x",
        2,
    )


@pytest.mark.parametrize(
    "command",
    [["plugins"], ["jobs", "--json"], ["plan", "--count", "50"], ["--help"], ["config"]],
    ids=" ".join,
)
def test_a_closed_output_pipe_ends_quietly(tmp_path: Path, command: list[str]) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("sts.ini", CONFIG)
        process = sts.start(*command)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # the reader is gone before the first line, like `head -0`
        stderr = process.stderr.read()
        process.wait(timeout=60)
        assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
        assert "Exception ignored" not in stderr, stderr
        # argparse swallows the error of its own help text itself, and exits 0
        assert process.returncode == (0 if command == ["--help"] else BROKEN_PIPE)

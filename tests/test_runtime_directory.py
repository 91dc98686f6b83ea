"""A runtime directory (where the control socket lives) that is not safely the user's:
``sts run`` stops with one line naming it and what to do, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cli_helpers import StsEnv, sts_environment, wait_for

from sts.testing import require

CONFIG = """
[scheduler]
name = guarded
timezone = UTC

[job:tick]
type = python
callable = builtins:print
schedule = every 1h
"""

#: The uid of ``nobody`` on Linux: the "other user" who made the directory.
NOBODY = 65534


def _run_refused(sts: StsEnv, directory: Path) -> str:
    config = sts.write("sts.ini", CONFIG)
    try:
        result = sts.run("run", str(config), timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("sts run started in an unsafe runtime directory") from None
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(directory) in lines[0] and "XDG_RUNTIME_DIR" in lines[0]
    assert not (directory / "guarded.sock").exists()
    return lines[0]


def test_a_runtime_dir_owned_by_another_user_is_refused_in_one_line(tmp_path: Path) -> None:
    require(os.geteuid() == 0, "making a directory owned by another user needs root")
    with sts_environment(tmp_path) as sts:
        directory = sts.runtime / "sts"
        directory.mkdir(mode=0o755)
        os.chown(directory, NOBODY, NOBODY)
        line = _run_refused(sts, directory)
    assert f"uid {NOBODY}" in line and "not by you" in line


def test_a_runtime_dir_others_may_write_is_refused(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        directory = sts.runtime / "sts"
        directory.mkdir()
        directory.chmod(0o777)
        line = _run_refused(sts, directory)
    assert "mode 777" in line


def test_the_commands_that_connect_say_the_same(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        directory = sts.runtime / "sts"
        directory.mkdir()
        directory.chmod(0o777)
        sts.write("sts.ini", CONFIG)
        result = sts.run("jobs", "--config", "sts.ini")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert str(directory) in result.stderr


@pytest.mark.parametrize("mode", [0o700, 0o755])
def test_the_users_own_private_runtime_dir_is_used(tmp_path: Path, mode: int) -> None:
    with sts_environment(tmp_path) as sts:
        directory = sts.runtime / "sts"
        directory.mkdir()
        directory.chmod(mode)
        process = sts.start("run", str(sts.write("sts.ini", CONFIG)))
        try:
            wait_for((directory / "guarded.sock").exists, what="the socket", process=process)
        finally:
            sts.stop(process)

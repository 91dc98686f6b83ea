"""Seeing a run: ``sts history`` with the whole error (the terminal's width, or all of it
into a pipe), ``--job`` and ``--since``; ``sts show RUN_ID`` with every attempt, timings in
the job's zone and UTC, the traceback and the output tail; ``sts remove JOB``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import sts_environment, wait_for

from sts_core.service.cli import show

LONG = "the report server at reports.internal.example refused the upload " * 3

JOBS = f"""
import sts

def broken():
    raise RuntimeError({LONG!r}.strip())
"""

CONFIG = """
[scheduler]
name = seeing
timezone = UTC

[job:broken]
type = python
callable = seeingjobs:broken
schedule = every 1h
timezone = Europe/Berlin
retries = 1
backoff = 0.1s

[job:noisy]
type = shell
command = sh -c "echo first-out-line; echo an-error-line >&2; exit 3"
schedule = every 1h

[job:fine]
type = python
callable = os:getcwd
schedule = every 1h
"""


def test_history_show_and_remove_on_a_running_scheduler(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("seeingjobs.py", JOBS)
        sts.write("sts.ini", CONFIG)
        process = sts.start("run")
        wait_for(sts.socket("seeing").exists, what="the control socket", process=process)
        for job in ("broken", "noisy"):
            assert sts.run("trigger", job, "--wait").returncode == 1

        table = sts.run("history")  # into a pipe: every error whole
        assert table.returncode == 0, table.stderr
        assert LONG.strip() in table.stdout
        assert table.stdout.splitlines()[0].split() == [
            "FIRE", "TIME", "JOB", "OUTCOME", "TRY", "DURATION", "RUN", "ERROR"
        ]  # fmt: skip

        runs = json.loads(sts.run("history", "--job", "broken", "--json").stdout)
        assert {run["job"] for run in runs} == {"broken"} and len(runs) == 2  # two attempts
        assert json.loads(sts.run("history", "--since", "2999-01-01T00:00Z", "--json").stdout) == []
        since = json.loads(sts.run("history", "--since", "2000-01-01T00:00", "--json").stdout)
        assert len(since) == 3

        run_id = runs[0]["run_id"]
        shown = sts.run("show", run_id)
        assert shown.returncode == 0, shown.stderr
        text = shown.stdout
        assert text.startswith(f"run {run_id} of job broken (manual): failed")
        assert "attempt 1: failed" in text and "attempt 2: failed" in text
        assert f"error:    RuntimeError: {LONG.strip()}" in text
        assert "CET (" in text and " UTC)" in text  # the job's zone, then UTC
        assert "traceback (attempt 2):" in text and "raise RuntimeError(" in text

        noisy = json.loads(sts.run("history", "noisy", "--json").stdout)[0]
        output = sts.run("show", noisy["run_id"]).stdout
        assert "first-out-line" in output and "an-error-line" in output

        missing = sts.run("show", "ffffffffffff")
        assert missing.returncode == 2 and "no run 'ffffffffffff' is recorded" in missing.stderr

        removed = sts.run("remove", "fine")
        assert removed.returncode == 0, removed.stderr
        names = [row["name"] for row in json.loads(sts.run("jobs", "--json").stdout)]
        assert names == ["broken", "noisy"]
        code, _, err = sts.stop(process)
        assert code == 0, err

        offline = sts.run("show", run_id)  # from the state file once it stopped
        assert offline.returncode == 0 and "attempt 2: failed" in offline.stdout


def test_history_uses_the_terminal_width_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    headers = ["JOB", "ERROR"]
    rows = [["backup", "x" * 500]]
    monkeypatch.setattr(
        "shutil.get_terminal_size", lambda: __import__("os").terminal_size((250, 40))
    )
    assert show.error_width(headers, rows) == 250 - len("backup") - 2
    monkeypatch.setattr(
        "shutil.get_terminal_size", lambda: __import__("os").terminal_size((80, 40))
    )
    assert show.error_width(headers, rows) == 80 - 8
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert show.error_width(headers, rows) is None


def test_a_run_id_may_be_shortened_to_a_unique_start_or_end() -> None:
    from sts_core.service.cli.errors import CommandError
    from sts_core.service.cli.run_detail import find_attempts

    runs = [
        {"run_id": "abcd00000001", "attempt": 2},
        {"run_id": "abcd00000001", "attempt": 1},
        {"run_id": "abcd0000002a", "attempt": 1},
    ]
    assert [run["attempt"] for run in find_attempts(runs, "01")] == [1, 2]
    assert find_attempts(runs, "2a")[0]["run_id"] == "abcd0000002a"
    with pytest.raises(CommandError, match="is part of 2 run ids"):
        find_attempts(runs, "abcd")
    with pytest.raises(CommandError, match="no run 'ffff' is recorded"):
        find_attempts(runs, "ffff")

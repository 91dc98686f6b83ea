"""``sts check``: every problem of a config file at once (the fixed sections, the jobs,
their callables' imports, the referenced secrets), exit 2; a one-line summary and exit 0
when clean. ``sts config`` of an invalid file exits 2. "Did you mean" wherever a name is
looked up, and a warning for a value an inline ';' cuts short."""

from __future__ import annotations

from pathlib import Path

import pytest

import sts
from sts_core.service.cli import main

BROKEN = """\
[scheduler]
timezon = UTC

[job:a]
type = shel
schedule = every 1h

[job:b]
type = python
callable = fh_nowhere.mod:f
schedule = evry 1h
retires = 3

[job:c]
type = python
callable = os:getcwd
schedule = every 1h
timezone = Europe/Berln

[job:d]
type = shell
command = echo hello
env = TOKEN=${secret:FH_MISSING_TOKEN}
schedule = every 1h
"""

CLEAN = """\
[job:tick]
type = python
callable = os:getcwd
schedule = every 10m

[job:tock]
type = shell
command = echo hello
env = TOKEN=${secret:FH_PRESENT_TOKEN}
schedule = every 1h
"""


def run_sts(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("STS_CONFIG", "FH_MISSING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STS_SECRETS_DIR", str(tmp_path / "no-secrets"))
    monkeypatch.setenv("FH_PRESENT_TOKEN", "present-value-1234")


def test_check_reports_every_problem_together_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "jobs.ini").write_text(BROKEN)
    code, out, err = run_sts(capsys, "check", "jobs.ini")
    assert code == 2 and out == ""
    assert err.startswith(f"sts check: error: 7 problems in {tmp_path / 'jobs.ini'}:")
    expected = [
        "jobs.ini:2: [scheduler] timezon: unknown key (did you mean 'timezone'?)",
        "jobs.ini:5: [job:a] type: no task type 'shel' is installed (did you mean 'shell'?)",
        "jobs.ini:11: [job:b] schedule: invalid schedule 'evry 1h': unknown kind 'evry' "
        "(did you mean 'every'?)",
        "jobs.ini:12: [job:b] retires: unknown option (did you mean 'retries'?)",
        "No module named 'fh_nowhere'; looked in " + str(tmp_path),
        "jobs.ini:18: [job:c] timezone: unknown time zone 'Europe/Berln' (did you mean "
        "'Europe/Berlin'",
        "jobs.ini:23: [job:d] env: secret 'FH_MISSING_TOKEN' was not found",
    ]
    for text in expected:
        assert text in err, text
    assert "Traceback" not in err


def test_check_of_a_clean_file_is_one_line_and_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sts.ini").write_text(CLEAN)
    code, out, err = run_sts(capsys, "check")
    assert code == 0, err
    assert out.splitlines() == [
        f"{tmp_path / 'sts.ini'}: OK: 2 jobs (tick, tock), 1 secret reference found, "
        "scheduler 'sts'"
    ]
    assert "present-value-1234" not in out + err


def test_config_of_an_invalid_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sts.ini").write_text(BROKEN.replace("timezon = UTC", "timezone = UTC"))
    code, out, err = run_sts(capsys, "config")
    assert code == 2
    assert "[job:a]" in out  # what is in effect is still shown, to debug it
    assert err.startswith("sts config: error: ")
    assert "no task type 'shel' is installed" in err


def test_an_inline_semicolon_that_cuts_a_value_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "sts.ini").write_text(
        "[job:build]\ntype = shell\ncommand = make ; make install\nschedule = every 1h"
        "        ; an aligned comment is fine\n"
    )
    code, _, _ = run_sts(capsys, "check")
    assert code == 0
    warnings = [record.getMessage() for record in caplog.records if "cut at" in record.message]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{tmp_path / 'sts.ini'}:3: [job:build] command: ")
    assert "so it is 'make'" in warnings[0]


def test_did_you_mean_in_the_python_api_and_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scheduler = sts.TaskScheduler()
    with pytest.raises(TypeError, match=r"unknown job policy 'retry' \(did you mean .*'retries'"):
        scheduler.schedule(sts.FunctionTask(print), "every 1h", retry=3)
    with pytest.raises(ValueError, match=r"'Europe/Berln' \(did you mean 'Europe/Berlin'"):
        sts.TaskScheduler(timezone="Europe/Berln")
    with pytest.raises(ValueError, match=r"unknown kind 'evry' \(did you mean 'every'\?\)"):
        scheduler.schedule(sts.FunctionTask(print, name="p2"), "evry 1h")
    code, _, err = run_sts(capsys, "hisotry")
    assert code == 2 and "invalid choice: 'hisotry' (did you mean 'history'?)" in err
    code, _, err = run_sts(capsys, "history", "--limt", "3")
    assert code == 2 and "--limt (did you mean '--limit'" in err


def test_run_reports_a_scheduler_typo_together_with_the_jobs_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sts.ini").write_text(BROKEN)
    code, _, err = run_sts(capsys, "run")
    assert code == 2
    assert "[scheduler] timezon: unknown key" in err
    assert "[job:a] type: no task type 'shel'" in err
    assert "[job:b] retires: unknown option" in err

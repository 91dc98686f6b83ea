"""``sts jobs``, ``plan``, ``history``, ``plugins`` and ``config`` with no scheduler running:
they read the config and the state file directly. Run through ``main([...])`` in process,
in XDG dirs of the test's own."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sts_core.records import Outcome, RunRecord
from sts_core.service.cli import main
from sts_core.service.paths import state_database
from sts_core.service.sqlite_store import SQLiteStore
from sts_core.store import JobState

CONFIG = """
[scheduler]
name = office
timezone = Europe/Berlin

[job:hourly]
type = python
callable = os:getpid
schedule = every 1h

[job:launch]
type = python
callable = os:getpid
schedule = at 2030-06-01T09:00
"""

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    monkeypatch.delenv("STS_CONFIG", raising=False)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sts.ini").write_text(CONFIG)
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_jobs_lists_the_configured_jobs(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_json(capsys, "jobs")
    assert isinstance(rows, list)
    assert [(row["name"], row["schedule"], row["timezone"]) for row in rows] == [
        ("hourly", "every 1h", "Europe/Berlin"),
        ("launch", "at 2030-06-01T09:00:00+02:00", "Europe/Berlin"),
    ]
    assert rows[1]["next_fire"] == "2030-06-01T09:00:00+02:00"
    assert main(["jobs"]) == 0
    captured = capsys.readouterr()
    assert "2030-06-01 09:00:00 CEST" in captured.out
    assert "not running" in captured.err


def test_jobs_shows_the_stored_state(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SQLiteStore(state_database("office"), flush_interval=None) as store:
        store.save_job(JobState("hourly", next_fire=T0, last_fire=T0, schedule="every 1h"))
        store.save_job(JobState("from-python", next_fire=T0, paused=True, schedule="every 5m"))
        store.record_run(RunRecord("r1", "hourly", T0, Outcome.FAILED, error="boom"))
    rows = run_json(capsys, "jobs")
    assert isinstance(rows, list)
    by_name = {row["name"]: row for row in rows}
    assert by_name["hourly"]["next_fire"] == T0.isoformat()
    assert by_name["hourly"]["last_outcome"] == "failed"
    assert by_name["from-python"]["paused"] is True
    assert main(["jobs"]) == 0
    out = capsys.readouterr().out
    assert "(overdue)" in out and "paused" in out


def test_plan_shows_the_dst_switch_in_both_zones(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plans = run_json(capsys, "plan", "hourly", "--count", "3", "--since", "2026-03-29T00:30")
    assert plans == [
        {
            "job": "hourly",
            "schedule": "every 1h",
            "timezone": "Europe/Berlin",
            "fires": [
                {"utc": "2026-03-29T00:30:00+00:00", "local": "2026-03-29T01:30:00+01:00"},
                {"utc": "2026-03-29T01:30:00+00:00", "local": "2026-03-29T03:30:00+02:00"},
                {"utc": "2026-03-29T02:30:00+00:00", "local": "2026-03-29T04:30:00+02:00"},
            ],
        }
    ]
    assert main(["plan", "hourly", "--count", "2", "--since", "2026-03-29T00:30"]) == 0
    out = capsys.readouterr().out
    assert "2026-03-29 01:30:00 CET" in out and "2026-03-29 00:30:00 UTC" in out
    assert "2026-03-29 03:30:00 CEST" in out
    assert "daylight saving time since the fire before (+0100 -> +0200)" in out


def test_plan_of_a_one_off_job_ends(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plans = run_json(capsys, "plan", "launch", "--count", "5")
    assert isinstance(plans, list)
    assert [fire["utc"] for fire in plans[0]["fires"]] == ["2030-06-01T07:00:00+00:00"]


def test_history_reads_the_store(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SQLiteStore(state_database("office"), flush_interval=None) as store:
        store.save_job(JobState("hourly", schedule="every 1h"))
        for index, outcome in enumerate([Outcome.SUCCEEDED, Outcome.TIMED_OUT, Outcome.SUCCEEDED]):
            fire = T0 + timedelta(hours=index)
            store.record_run(
                RunRecord(
                    f"r{index}",
                    "hourly",
                    fire,
                    outcome,
                    started_at=fire,
                    finished_at=fire + timedelta(seconds=2.5),
                    error="timed out after 2.5s" if outcome is Outcome.TIMED_OUT else None,
                )
            )
    runs = run_json(capsys, "history")
    assert isinstance(runs, list)
    assert [run["run_id"] for run in runs] == ["r2", "r1", "r0"]
    failed = run_json(capsys, "history", "hourly", "--failed")
    assert isinstance(failed, list)
    assert [run["run_id"] for run in failed] == ["r1"]
    assert main(["history", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "timed_out" in out and "timed out after 2.5s" in out and "2.5s" in out
    assert "2026-03-01 11:00:00 CET" in out  # 10:00 UTC, shown in the job's zone
    assert out.count("hourly") == 2


def test_offline_reads_import_no_user_code(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The job's module exists only where the scheduler ran: sts jobs, plan and history
    # read the config as text and still show the job and what it did.
    (home / "sts.ini").write_text(CONFIG + """
[job:report]
type = python
callable = only_on_the_server_x:report
schedule = every 1d
""")
    with SQLiteStore(state_database("office"), flush_interval=None) as store:
        store.record_run(RunRecord("r0", "report", T0, Outcome.SUCCEEDED, started_at=T0))
    jobs = run_json(capsys, "jobs")
    assert isinstance(jobs, list)
    assert [row["name"] for row in jobs] == ["hourly", "launch", "report"]
    assert jobs[2]["schedule"] == "every 1d" and jobs[2]["last_outcome"] == "succeeded"
    runs = run_json(capsys, "history", "report")
    assert isinstance(runs, list) and [run["run_id"] for run in runs] == ["r0"]
    plan = run_json(capsys, "plan", "report", "--count", "2")
    assert isinstance(plan, dict | list) and "only_on_the_server_x" not in json.dumps(plan)
    assert "only_on_the_server_x" not in sys.modules


def test_an_unknown_job_is_a_usage_error(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "nightly"]) == 2
    err = capsys.readouterr().err
    assert "sts plan: error: no job named 'nightly'; known: hourly, launch" in err


def test_plugins_lists_what_each_registers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    engine, service = out.split("\n\n")[:2]
    assert engine.startswith("sts_core.builtin  [built in (sts ")
    assert "  triggers: every, at" in engine
    assert "  state stores: memory" in engine
    assert "  task types: python" in engine
    assert "  executors: local" in engine  # every registry is listed, notifiers too
    assert service.startswith("sts_core.service.builtin  [built in (sts ")
    assert "  state stores: sqlite" in service
    assert "  log sinks: console, file, json" in service


def test_config_shows_origins(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--log-level", "debug"]) == 0
    out = capsys.readouterr().out
    assert "Europe/Berlin" in out and "sts.ini" in out
    assert "command line" in out


def test_trigger_without_a_running_scheduler_says_so(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trigger", "hourly"]) == 1
    err = capsys.readouterr().err
    assert "no scheduler named 'office' is running" in err
    assert "sts run" in err

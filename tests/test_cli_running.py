"""``sts run`` as a real process, and the commands that talk to it over its control socket."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import StsEnv, query, sts_environment, wait_for

JOBS_MODULE = """
import sts

def ok():
    pass

def broken():
    raise RuntimeError("the report server is down")

scheduler = sts.TaskScheduler(name="py", timezone="UTC", store=None)
scheduler.schedule(sts.FunctionTask(ok, name="pyjob"), "every 1h")
"""

CONFIG = """
[scheduler]
name = live
timezone = UTC

[job:fine]
type = python
callable = livejobs:ok
schedule = every 1h

[job:failing]
type = python
callable = livejobs:broken
schedule = every 1h
"""


def start_scheduler(sts: StsEnv, *args: str, name: str) -> None:
    process = sts.start("run", *args)
    wait_for(sts.socket(name).exists, what="the control socket", process=process)


def test_commands_act_on_a_running_scheduler(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("livejobs.py", JOBS_MODULE)
        sts.write("sts.ini", CONFIG)
        start_scheduler(sts, name="live")  # ./sts.ini, found by itself
        process = sts.processes[0]

        jobs = sts.run("jobs", "--json")
        assert jobs.returncode == 0, jobs.stderr
        assert [row["name"] for row in json.loads(jobs.stdout)] == ["fine", "failing"]
        assert "not running" not in sts.run("jobs").stderr

        fine = sts.run("trigger", "fine", "--wait")
        assert fine.returncode == 0, fine.stderr
        assert fine.stdout.startswith("fine: succeeded in ")
        failing = sts.run("trigger", "failing", "--wait")
        assert failing.returncode == 1
        assert "failing: failed" in failing.stdout
        assert "RuntimeError: the report server is down" in failing.stdout
        started = sts.run("trigger", "fine")
        assert (started.returncode, started.stdout) == (0, "started a run of fine\n")

        unknown = sts.run("trigger", "nightly")
        assert unknown.returncode == 2
        assert "sts trigger: error: no job named 'nightly'" in unknown.stderr

        paused = sts.run("pause", "fine")
        assert (paused.returncode, paused.stdout) == (0, "fine is paused\n")
        assert json.loads(sts.run("jobs", "--json").stdout)[0]["paused"] is True
        resumed = sts.run("resume", "fine")
        assert resumed.returncode == 0 and "fine is active; next fire" in resumed.stdout

        history = sts.run("history", "--failed", "--json")
        assert history.returncode == 0, history.stderr
        [failed_run] = json.loads(history.stdout)
        assert failed_run["job"] == "failing" and failed_run["manual"] is True
        table = sts.run("history").stdout
        assert "failed (manual)" in table and "RuntimeError: the report server is down" in table

        plan = sts.run("plan", "fine", "--count", "2", "--json")
        assert plan.returncode == 0, plan.stderr
        assert len(json.loads(plan.stdout)[0]["fires"]) == 2

        code, _, err = sts.stop(process)
        assert code == 0, err
        outcomes = query(sts.database("live"), "SELECT job, outcome FROM runs ORDER BY seq")
        assert ("failing", "failed") in outcomes and ("fine", "succeeded") in outcomes
        assert not sts.socket("live").exists()


def test_run_takes_a_scheduler_built_in_python(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("livejobs.py", JOBS_MODULE)
        start_scheduler(sts, "livejobs:scheduler", name="py")
        fine = sts.run("trigger", "pyjob", "--wait", "--name", "py")
        assert fine.returncode == 0, fine.stderr
        code, _, err = sts.stop(sts.processes[0])
        assert code == 0, err


def test_run_refuses_what_is_no_scheduler(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("livejobs.py", JOBS_MODULE)
        wrong = sts.run("run", "livejobs:ok")
        assert wrong.returncode == 2
        assert "'livejobs:ok' is function" in wrong.stderr
        assert "not a TaskScheduler" in wrong.stderr
        missing = sts.run("run", "nosuchmodule:scheduler")
        assert missing.returncode == 2
        assert "cannot import 'nosuchmodule'" in missing.stderr
        for result in (wrong, missing):
            assert "Traceback" not in result.stderr


def test_a_bad_config_stops_run_before_it_starts(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        config = sts.write("bad.ini", "[job:x]\ntype = nosuchtype\nschedule = every 1s\n")
        result = sts.run("run", str(config))
        assert result.returncode == 2
        assert result.stderr.startswith("sts run: error: ")
        assert "bad.ini" in result.stderr and "[job:x]" in result.stderr
        assert "nosuchtype" in result.stderr
        assert "Traceback" not in result.stderr
        assert not sts.database().exists()


BROKEN_TRIGGER_MODULE = """
from datetime import timedelta

import sts

answers = iter([1.0])

def soon_then_past(after):
    # First a fire in one second, then a time already past: a broken trigger.
    return after + timedelta(seconds=next(answers, -5.0))

def ok():
    pass

scheduler = sts.TaskScheduler(name="aside", timezone="UTC")
scheduler.schedule(sts.FunctionTask(ok, name="stuck"), soon_then_past)
scheduler.schedule(sts.FunctionTask(ok, name="steady"), "every 1h")
"""


def test_sts_jobs_shows_why_the_scheduler_set_a_job_aside(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("asidejobs.py", BROKEN_TRIGGER_MODULE)
        start_scheduler(sts, "asidejobs:scheduler", name="aside")

        def stuck_row() -> dict[str, object]:
            rows = json.loads(sts.run("jobs", "--json", "--name", "aside").stdout)
            return next(row for row in rows if row["name"] == "stuck")

        wait_for(lambda: stuck_row()["paused"], what="the job set aside")
        assert "broken trigger 'soon_then_past'" in str(stuck_row()["paused_reason"])
        table = sts.run("jobs", "--name", "aside").stdout
        line = next(line for line in table.splitlines() if line.startswith("stuck"))
        assert "paused: broken trigger 'soon_then_past': answered" in line
        steady = next(line for line in table.splitlines() if line.startswith("steady"))
        assert "paused" not in steady
        history = sts.run("history", "stuck", "--name", "aside").stdout
        assert "job set aside (paused until resumed): broken trigger" in history
        code, _, err = sts.stop(sts.processes[0])
        assert code == 0, err

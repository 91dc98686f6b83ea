"""The seed README's words: ``TaskScheduler.from_config(path)``, and ``sts run
module:object`` keeping its history in SQLite like ``sts run CONFIG``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import query, sts_environment, wait_for

import sts

CONFIG = """
[scheduler]
name = fromfile
timezone = UTC

[state]
path = {db}

[job:tick]
type = python
callable = os:getcwd
schedule = every 1h
retries = 2
"""

MODULE = """
import sts

def ok():
    pass

scheduler = sts.TaskScheduler(name="{name}", timezone="UTC"{store})
scheduler.schedule(sts.FunctionTask(ok, name="pyjob"), "every 1h")
"""


def test_from_config_builds_what_sts_run_builds(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text(CONFIG.format(db=tmp_path / "state.db"))
    scheduler = sts.TaskScheduler.from_config(path, blocking=False)
    try:
        (job,) = scheduler.jobs
        assert scheduler.name == "fromfile" and job.name == "tick"
        assert job.policy.retry.retries == 2
        assert type(scheduler.store).__name__ == "SQLiteStore"
        assert not scheduler.has_default_store
    finally:
        scheduler.store.close()


def test_from_config_reports_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "config.ini"
    path.write_text(
        "[job:x]\ntype = python\ncallable = os:getcwd\nschedule = every 1h\nretires = 3\n"
    )
    with pytest.raises(ValueError, match=r"config.ini:5: \[job:x\] retires"):
        sts.TaskScheduler.from_config(path)


@pytest.mark.parametrize(
    ("store", "kept"), [("", True), (", store=sts.MemoryStore()", False)], ids=["default", "memory"]
)
def test_run_of_a_python_scheduler_keeps_history_in_sqlite(
    tmp_path: Path, store: str, kept: bool
) -> None:
    name = "pysql" if kept else "pymem"
    with sts_environment(tmp_path) as env:
        env.write("seedjobs.py", MODULE.format(name=name, store=store))
        process = env.start("run", "seedjobs:scheduler")
        wait_for(env.socket(name).exists, what="the control socket", process=process)
        triggered = env.run("trigger", "pyjob", "--wait", "--name", name)
        assert triggered.returncode == 0, triggered.stderr
        code, _, err = env.stop(process)
        assert code == 0, err
        runs = query(env.database(name), "SELECT job, outcome FROM runs")
        assert runs == ([("pyjob", "succeeded")] if kept else [])
        assert env.database(name).exists() == kept

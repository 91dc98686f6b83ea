"""A real ``sts run`` killed with SIGKILL in the middle of a run, then started again."""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import datetime
from pathlib import Path

from cli_helpers import query, sts_environment, wait_for

JOBS_MODULE = """
import os, time
import sts

def work():
    run = sts.current_run()
    with open(os.environ["CRASH_STARTS"], "a") as starts:
        starts.write(run.fire_time.isoformat() + "\\n")
    time.sleep(0.8)
"""

CONFIG = """
[scheduler]
name = crash
timezone = UTC

[job:work]
type = python
callable = crashjobs:work
schedule = every 1s
overlap = skip
"""


def test_a_killed_scheduler_resumes_without_running_a_completed_fire_twice(
    tmp_path: Path,
) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("crashjobs.py", JOBS_MODULE)
        config = sts.write("sts.ini", CONFIG)
        starts = tmp_path / "starts.log"
        sts.env["CRASH_STARTS"] = str(starts)
        database = sts.database("crash")

        def started_fires() -> list[str]:
            return starts.read_text().split() if starts.exists() else []

        first = sts.start("run", str(config))
        # Kill once a second run has started and its start is on disk: mid-run, for sure
        # (a run lasts 0.8s), and after a first run has completed.
        in_flight = wait_for(
            lambda: len(started_fires()) >= 2
            and query(database, "SELECT fire_time FROM runs_in_flight"),
            what="a second run to start",
            process=first,
        )
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        killed_fire = in_flight[0][0]
        killed_at = datetime.fromisoformat(killed_fire)

        second = sts.start("run", str(config))
        wait_for(
            lambda: query(
                database,
                f"SELECT 1 FROM runs WHERE outcome = 'succeeded' AND fire_time > '{killed_fire}'",
            ),
            what="a run after the restart to succeed",
            process=second,
        )
        code, _, err = sts.stop(second)
        assert code == 0, err

        runs = query(database, "SELECT fire_time, outcome, error FROM runs ORDER BY seq")
        interrupted = [(fire, error) for fire, outcome, error in runs if outcome == "interrupted"]
        assert [fire for fire, _ in interrupted] == [killed_fire]
        assert f"pid {first.pid}" in interrupted[0][1]
        assert "run interrupted by the previous process" in err

        succeeded = [fire for fire, outcome, _ in runs if outcome == "succeeded"]
        assert succeeded, runs
        assert [fire for fire, n in Counter(succeeded).items() if n > 1] == []
        assert killed_fire not in succeeded
        assert any(datetime.fromisoformat(fire) > killed_at for fire in succeeded)
        # Every fire a run started for ran once, except the killed one, which never ends.
        assert Counter(started_fires())[killed_fire] == 1
        assert query(database, "SELECT count(*) FROM runs_in_flight") == [(0,)]
        assert query(database, "PRAGMA integrity_check") == [("ok",)]

"""Job names and errors holding terminal control characters are shown escaped by the
commands that print them, never sent raw to the user's terminal."""

from __future__ import annotations

import re
from pathlib import Path

from cli_helpers import sts_environment, wait_for

#: Clears the screen, rings the bell, and reverses what follows (a "Trojan source" trick).
EVIL = "evil\x1b[2J\x07\u202ename\r"
JOBS_MODULE = f"""
import sts

def broken():
    raise RuntimeError("failed \\x1b[31mred\\x1b[0m\\x08\\x08 and \\x9b1m")

scheduler = sts.TaskScheduler(name="evil", timezone="UTC", store=None)
scheduler.schedule(sts.FunctionTask(broken, name="t"), "every 1h", name={EVIL!r})
"""
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]")


def test_jobs_history_plan_and_trigger_escape_control_characters(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("eviljobs.py", JOBS_MODULE)
        process = sts.start("run", "eviljobs:scheduler")
        wait_for(sts.socket("evil").exists, what="the control socket", process=process)
        outputs = {
            "trigger": sts.run("--name", "evil", "trigger", EVIL, "--wait"),
            "jobs": sts.run("--name", "evil", "jobs"),
            "history": sts.run("--name", "evil", "history"),
            "plan": sts.run("--name", "evil", "plan"),
            "pause": sts.run("--name", "evil", "pause", EVIL),
        }
        sts.stop(process)
    for command, result in outputs.items():
        assert result.returncode in (0, 1), (command, result.stderr)
        assert not RAW_CONTROL.search(result.stdout), (command, result.stdout)
        assert "evil\\x1b[2J\\x07\\u202ename\\r" in result.stdout, (command, result.stdout)
    assert "failed \\x1b[31mred\\x1b[0m\\x08\\x08 and \\x9b1m" in outputs["history"].stdout

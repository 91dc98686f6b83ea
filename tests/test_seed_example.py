"""The seed README's example runs as written (with "1s" instead of "10s")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

SEED_EXAMPLE = """
import sts

class ExampleTask(sts.Task):
    async def run(self):
        print("Running example task", flush=True)

scheduler = sts.TaskScheduler()
task = ExampleTask()
scheduler.add_task(task)                     # registry, creation order, lookup by name
scheduler.schedule_at(task, "1s")            # every second
scheduler.schedule_cron(task, "0 0 * * *")   # via the trigger kind "cron" (plugin sts-cron)
scheduler.run()                              # blocks until stopped (SIGINT/SIGTERM or stop())
"""


def test_the_seed_example_runs_until_sigterm() -> None:
    env = {**os.environ, "LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-u", "-c", SEED_EXAMPLE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 20
    while len(lines) < 2 and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert lines == ["Running example task"] * 2, stderr
    assert process.returncode == 0, stderr
    assert "run finished: job=ExampleTask" in stderr and "outcome=succeeded" in stderr
    assert "scheduler sts stopped" in stderr
    assert "Traceback" not in stderr

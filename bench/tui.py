"""The terminal UI at scale: ``python -m bench.tui [--jobs 10000] [--fires 1000]``.

Attaches ``sts-tui`` headless (Textual's ``run_test``, which draws every frame as a
terminal would) to a scheduler process and reports, against the targets of issue #18:

- **first screen** and **full table**: from the start of the attach until the first page
  of rows is on screen, and until all of them are (target: 0.5 s for the full table);
- **burst follow**: 10,000 jobs fire at one instant, 20,000 events (started and
  finished); from the scheduler's last event of the burst (its own wall clock, written to
  a file) until the UI has applied it (target: 1 s);
- **keystroke**: ``/`` and a filter typed during that burst, each key until the screen
  showed it (target: 100 ms), and the filter's table after the last key;
- **CPU**: the UI process's CPU time while 1,000 jobs fire every second, as a share of
  one core (target: under 10%).

Numbers, not assertions: a shared machine gives different ones from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The scheduler: N jobs firing every PERIOD seconds from FIRST (a Unix time) on; the
#: instant of its N-th run_finished (the end of the first burst) is written to DONE.
PROGRAM = """
import sys, time
from datetime import UTC, datetime
import sts

path, count, period, first, done = sys.argv[1:6]
count, period, first = int(count), float(period), float(first)
scheduler = sts.TaskScheduler(name="bench-tui", control_socket=path, timezone="UTC")

async def work():
    pass

task = sts.FunctionTask(work, name="work")
# An interval job fires first one period after its start.
start = datetime.fromtimestamp(first - period, UTC)
for number in range(count):
    scheduler.schedule(task, f"every {period}s", name=f"job-{number:05d}", start=start)

finished = 0

def listener(event, **facts):
    global finished
    if event == "run_finished":
        finished += 1
        if finished == count:
            with open(done, "w") as file:
                file.write(repr(time.time()))

scheduler.add_listener(listener)
scheduler.run()
"""


#: The scale case's jobs fire every this many seconds: its first burst is measured. (A
#: start in the past counts from now, so the start, one period before the burst, must
#: come after the scheduler has scheduled its 10,000 jobs.)
BURST_PERIOD = 15.0
#: Seconds between the scheduler's first answer and the attach.
SETTLE = 3.0


class Scheduler:
    """The scheduler process; its socket answers once it is up."""

    def __init__(self, directory: Path, jobs: int, period: float, first: float) -> None:
        self.path = directory / "s.sock"
        self.done = directory / "done"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                PROGRAM,
                str(self.path),
                str(jobs),
                repr(period),
                repr(first),
                str(self.done),
            ],
            env={**os.environ, "LOG_LEVEL": "WARNING"},
        )

    def wait_ready(self) -> None:
        from sts import control_request

        deadline = time.monotonic() + 60
        while True:
            try:
                control_request(self.path, "hello", timeout=5.0)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the scheduler process did not start") from None
                time.sleep(0.05)

    def burst_end(self) -> float | None:
        try:
            return float(self.done.read_text())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _until(pilot: Any, condition: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.005)
    return True


async def _keystroke(app: Any, field: Any, char: str) -> float:
    """Seconds from a key's arrival to the filter field showing it. The key is posted as
    the terminal driver posts it (``Pilot.press`` would also wait for the process to go
    idle, which it never does during a burst); the frame that draws it follows within a
    refresh interval once the field has taken the key, unless the loop is held up, which
    this measures."""
    from textual import events

    before = field.value
    typed = time.monotonic()
    app.post_message(events.Key(char, char))
    while field.value == before:
        await asyncio.sleep(0.001)
    return time.monotonic() - typed


async def scale_case(jobs: int, lead: float) -> dict[str, Any]:
    """Attach to ``jobs`` jobs that all fire at once, ``lead`` seconds after the start."""
    from sts_tui.app import FilterInput, SchedulerApp

    with tempfile.TemporaryDirectory(prefix="sts-bench-", dir="/tmp") as directory:
        fire_at = time.time() + lead
        scheduler = Scheduler(Path(directory), jobs, BURST_PERIOD, fire_at)
        scheduler.wait_ready()
        # Attach to a running scheduler, not to one still settling after its start.
        await asyncio.sleep(SETTLE)
        result: dict[str, Any] = {"jobs": jobs}
        app = SchedulerApp(scheduler.path)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                attached = time.monotonic()
                await _until(pilot, lambda: app.table.row_count > 0, 30)
                result["first_screen_s"] = time.monotonic() - attached
                await _until(pilot, lambda: app.loaded, 60)
                result["full_table_s"] = time.monotonic() - attached
                result["rows"] = app.table.row_count
                # Wait for the burst, type a filter while it runs.
                while time.time() < fire_at:
                    await pilot.pause(0.01)
                keys: list[float] = []
                await pilot.press("slash")
                field = app.query_one(FilterInput)
                for char in "job-0999":
                    keys.append(await _keystroke(app, field, char))
                last_key = time.monotonic()
                await _until(pilot, lambda: app.table.row_count == 10, 10)
                result["filter_after_last_key_s"] = time.monotonic() - last_key
                result["keystroke_ms_max"] = max(keys) * 1000
                result["keystroke_ms_median"] = sorted(keys)[len(keys) // 2] * 1000
                await pilot.press("escape")
                target = 2 * jobs
                applied = await _until(pilot, lambda: app.events_applied >= target, 60)
                followed = time.time()
                end = scheduler.burst_end()
                result["burst_events"] = app.events_applied
                result["burst_follow_s"] = (followed - end) if applied and end else None
                result["still_connected"] = app.connection_state == "connected"
        finally:
            scheduler.stop()
        return result


async def cpu_case(jobs: int, seconds: float) -> dict[str, Any]:
    """The UI's CPU while ``jobs`` jobs fire every second."""
    from sts_tui.app import SchedulerApp
    from sts_tui.event_log import MAX_LINES

    with tempfile.TemporaryDirectory(prefix="sts-bench-", dir="/tmp") as directory:
        scheduler = Scheduler(Path(directory), jobs, 1.0, time.time() + 2)
        try:
            scheduler.wait_ready()
            app = SchedulerApp(scheduler.path)
            async with app.run_test(size=(120, 40)) as pilot:
                await _until(pilot, lambda: app.loaded, 60)
                # Into the steady state: the event log full (while it grows, each write
                # costs a layout pass), a few seconds of fires.
                await _until(pilot, lambda: len(app.event_log.lines) >= MAX_LINES, 60)
                await pilot.pause(3.0)
                events, cpu, wall = app.events_applied, time.process_time(), time.monotonic()
                await pilot.pause(seconds)
                cpu = time.process_time() - cpu
                wall = time.monotonic() - wall
                events = app.events_applied - events
        finally:
            scheduler.stop()
    return {
        "jobs_every_second": jobs,
        "seconds": round(wall, 1),
        "events_per_second": round(events / wall),
        "ui_cpu_share_of_a_core": round(cpu / wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tui", description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs of the scale case")
    parser.add_argument("--fires", type=int, default=1_000, help="jobs firing every second")
    parser.add_argument("--seconds", type=float, default=10.0, help="CPU window")
    parser.add_argument("--lead", type=float, default=25.0, help="seconds from start to burst")
    args = parser.parse_args()
    scale = asyncio.run(scale_case(args.jobs, args.lead))
    print(json.dumps({"scale": scale}), flush=True)
    cpu = asyncio.run(cpu_case(args.fires, args.seconds))
    print(json.dumps({"cpu": cpu}), flush=True)


if __name__ == "__main__":
    main()

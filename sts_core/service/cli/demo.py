"""``sts demo``: a scheduler with three jobs that fire every few seconds and say so.

It needs no config file; its runs go to the SQLite state file of the scheduler named
``demo``, and it answers on the control socket of that name, so ``sts jobs --name demo``,
``sts trigger hello --name demo`` and ``sts tui --name demo`` reach it while it runs, and
``sts history --name demo`` shows its runs after it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count

from .errors import OK
from .failures import BROKEN_PIPE, silence_broken_stdout

DEMO_NAME = "demo"


#: Sync jobs print from worker threads while async ones print from the loop: one lock and
#: one write per line keep their lines whole (print() writes the text and the newline
#: separately, and another thread can write in between).
_OUTPUT_LOCK = threading.Lock()
#: Set when the reader of the output went away: the demo stops and exits with 141.
_OUTPUT_GONE = threading.Event()


def _say(job: str, text: str) -> None:
    line = f"{datetime.now():%H:%M:%S}  {job:<6} {text}\n"
    with _OUTPUT_LOCK:
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except BrokenPipeError:
            # `sts demo | head -3`: nobody reads any more. Stop the way Ctrl-C does (a job
            # cannot stop its own scheduler and wait for it); the command then ends with
            # the broken pipe's exit code.
            if not _OUTPUT_GONE.is_set():
                _OUTPUT_GONE.set()
                silence_broken_stdout()
                os.kill(os.getpid(), signal.SIGTERM)


def _hello_job() -> Callable[[], None]:
    runs = count(1)

    def hello() -> None:
        _say("hello", f"Hello from STS! (run {next(runs)}, every 2s)")

    return hello


def clock() -> None:
    now = datetime.now(UTC)
    local = now.astimezone()
    _say("clock", f"it is {local:%H:%M:%S %Z} here and {now:%H:%M:%S} UTC (every 3s)")


async def slow() -> None:
    _say("slow", "started a 1.5s run (every 5s; async, so it blocks nothing)")
    await asyncio.sleep(1.5)
    _say("slow", "finished")


def run_demo(args: argparse.Namespace) -> int:
    from ...scheduler import TaskScheduler
    from ...task import FunctionTask
    from ..logsinks import configure_logging
    from ..paths import state_database
    from ..sqlite_store import SQLiteStore

    name = args.name or DEMO_NAME
    # Quiet by default: the jobs' own lines are the show; warnings (missed fires) still show.
    level = args.log_level or os.environ.get("LOG_LEVEL") or "WARNING"
    os.environ["LOG_LEVEL"] = level
    configure_logging(level)
    store = SQLiteStore(state_database(name))
    scheduler = TaskScheduler(name=name, store=store, blocking=True, control_socket=True)
    scheduler.schedule(FunctionTask(_hello_job(), name="hello"), "every 2s")
    scheduler.schedule(FunctionTask(clock, name="clock"), "every 3s")
    scheduler.schedule(FunctionTask(slow, name="slow"), "every 5s")

    stop_after = args.duration
    print(
        f"STS demo: three jobs (hello every 2s, clock every 3s, slow every 5s).\n"
        f"Their runs are kept in {store.path}.\n"
        + ("Press Ctrl-C to stop." if stop_after is None else f"Stops after {stop_after:g}s.")
        + f"\nMeanwhile, in another terminal: sts jobs --name {name}; "
        f"sts trigger hello --name {name}; sts tui --name {name}\n",
        flush=True,
    )
    if stop_after is not None:
        timer = threading.Timer(stop_after, scheduler.stop)
        timer.daemon = True
        timer.start()
    try:
        scheduler.run()
    finally:
        store.close()
    print(f"\nstopped; see the runs with: sts history --name {name}", file=sys.stderr)
    return BROKEN_PIPE if _OUTPUT_GONE.is_set() else OK

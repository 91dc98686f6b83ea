"""The notification case: 1,000 jobs failing every second, with an ``email:`` notifier on
a local SMTP server (``sts-email``) or without one, beside 1,000 healthy jobs every second
whose fire lateness is measured. The throttle (``notify_interval``) should keep the
notifications to one per failing job per window (grouped into few mails: ``group_wait``),
and the deliveries should not make the healthy jobs late."""

from __future__ import annotations

import logging
import math
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import sts

from .measure import cpu_seconds, percentile, sleep_until

#: The throttle window of the case: short, so that a run of 15 s spans three windows.
WINDOW = 5.0


class SmtpSink:
    """``bench.smtp_sink`` in its own process."""

    def __enter__(self) -> SmtpSink:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().split()
        if ready[:1] != ["ready"]:
            self.process.kill()
            raise RuntimeError("the SMTP sink did not start")
        self.port = int(ready[1])
        return self

    def count(self) -> tuple[int, int]:
        """Messages accepted, and the notifications they carried."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        messages, notifications = self.process.stdout.readline().split()
        return int(messages), int(notifications)

    def __exit__(self, *exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


async def notify(contender: str, *, jobs: int, seconds: int, settle: float = 2.0) -> dict[str, Any]:
    """``jobs`` failing jobs and ``jobs`` healthy ones every second, for ``seconds``."""
    # Every failure logs a traceback: both contenders drop them, so the log is not measured.
    log = logging.getLogger("sts")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    with SmtpSink() as sink:
        notifying = contender == "sts-email"
        policy: dict[str, Any] = {}
        if notifying:
            policy = {
                "notify": "email:ops@example.org",
                "notify_interval": WINDOW,
                "notify_options": {
                    "email": {"host": "127.0.0.1", "port": sink.port, "security": "none"}
                },
            }
        lateness: list[tuple[float, float]] = []

        async def healthy() -> None:
            run = sts.current_run()
            lateness.append((run.fire_time.timestamp(), time.time()))

        async def failing() -> None:
            raise RuntimeError("the disk is full")

        rng = random.Random(13)
        scheduler = sts.TaskScheduler(name="bench-notify")
        base = time.time() + 1.0 + jobs / 2000
        for number in range(jobs):
            start = base + rng.random()
            first = datetime.fromtimestamp(start, UTC)  # the grid's first point
            scheduler.schedule(
                sts.FunctionTask(failing, name=f"failing-{number}"),
                sts.IntervalTrigger(1.0, anchor=first),
                name=f"failing-{number}",
                start=first,
                **policy,
            )
            scheduler.schedule(
                sts.FunctionTask(healthy, name=f"healthy-{number}"),
                sts.IntervalTrigger(1.0, anchor=first),
                name=f"healthy-{number}",
                start=first,
            )
        async with scheduler:
            window_close = base + seconds
            cpu_before = cpu_seconds()
            await sleep_until(window_close)
            cpu_used = cpu_seconds() - cpu_before
            for number in range(jobs):  # no failures after the window: mails are counted
                scheduler.pause(f"failing-{number}")
            await sleep_until(window_close + settle)
        mails, notifications = sink.count()
    late = sorted(actual - nominal for nominal, actual in lateness if nominal < window_close)
    windows = math.ceil(seconds / WINDOW)  # a failing job's mails: one at its first failure
    return {
        "jobs": jobs,
        "seconds": seconds,
        "fires": len(late),
        "missed": max(0, jobs * seconds - len(late)),
        "p50_ms": percentile(late, 0.50) * 1e3,
        "p99_ms": percentile(late, 0.99) * 1e3,
        "max_ms": (late[-1] if late else float("nan")) * 1e3,
        "mails": mails,
        "notifications": notifications,
        "per_job_window": notifications / (jobs * windows) if notifying else 0.0,
        "cpu_s": cpu_used,
    }

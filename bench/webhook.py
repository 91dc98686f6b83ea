"""The webhook case: 1,000 jobs that each make an HTTP call every second, against a fast
local server (uvicorn, in its own process).

Three contenders make the same call (``POST`` of a small JSON body with an
``Idempotency-Key``; the peers through one ``httpx.AsyncClient`` with httpx's default
limits, STS through the plugin's clients):

- ``httpx``: the floor, a bare asyncio loop per job that sleeps until its next second and
  awaits ``client.post``;
- ``apscheduler``: APScheduler 3.11's ``AsyncIOScheduler``, a job per call;
- ``sts``: STS with ``sts_webhook.WebhookTask`` jobs.

Figures: calls per second completed with a 2xx, fire lateness (the call's start against its
nominal second) at p50/p99, and CPU per call (this process only; the server's is apart).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from .measure import cpu_seconds, percentile, sleep_until

CONTENDERS = ("httpx", "apscheduler", "sts")
WARM_UP = 2.0
SETTLE = 1.5


@contextlib.contextmanager
def local_server() -> Iterator[str]:
    """A uvicorn process serving ``bench.webhook_server:app`` on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.webhook_server:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--backlog",
            "4096",
            "--timeout-keep-alive",
            "60",
            # The C parser and loop: the server must not be what limits the contenders.
            "--http",
            "httptools",
            "--loop",
            "uvloop",
        ],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    url = f"http://127.0.0.1:{port}/hook"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the benchmark's uvicorn server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class Calls:
    """The nominal second and the actual start of every call, and the calls that got 2xx."""

    def __init__(self) -> None:
        self.nominal: list[float] = []
        self.actual: list[float] = []
        self.succeeded: list[float] = []  # the nominal second of each 2xx

    def started(self, nominal: float, actual: float) -> None:
        self.nominal.append(nominal)
        self.actual.append(actual)


def _body(name: str) -> bytes:
    return b'{"job":"' + name.encode() + b'"}'


def _headers(name: str, nominal: float) -> dict[str, str]:
    key = f"{name}@{datetime.fromtimestamp(nominal, UTC).isoformat()}"
    return {"Content-Type": "application/json", "Idempotency-Key": key}


def _client() -> httpx.AsyncClient:
    # httpx's default limits (100 connections, 20 kept alive): what a user writes.
    return httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=30.0))


async def _bare_httpx(url: str, phases: list[float], calls: Calls, stop_at: float) -> Any:
    client = _client()

    async def job(number: int, first: float) -> None:
        name = f"job-{number}"
        nominal = first
        while nominal < stop_at:
            await sleep_until(nominal)
            calls.started(nominal, time.time())
            with contextlib.suppress(httpx.HTTPError):  # counted as not done
                response = await client.post(
                    url, content=_body(name), headers=_headers(name, nominal)
                )
                if response.is_success:
                    calls.succeeded.append(nominal)
            # Like the schedulers: the next fire is the next second still ahead.
            nominal += max(1.0, math.ceil(time.time() - nominal))

    tasks = [asyncio.create_task(job(n, first)) for n, first in enumerate(phases)]

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()

    return stop


async def _apscheduler(url: str, phases: list[float], calls: Calls, stop_at: float) -> Any:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

    client = _client()
    scheduler = AsyncIOScheduler(timezone=UTC)

    async def job(name: str, anchor: float) -> None:
        # APScheduler does not tell a job its scheduled time: the grid point before now.
        actual = time.time()
        nominal = anchor + math.floor(actual - anchor)
        calls.started(nominal, actual)
        with contextlib.suppress(httpx.HTTPError):  # counted as not done
            response = await client.post(url, content=_body(name), headers=_headers(name, nominal))
            if response.is_success:
                calls.succeeded.append(nominal)

    scheduler.start()
    for number, first in enumerate(phases):
        name = f"job-{number}"
        scheduler.add_job(
            job,
            "interval",
            seconds=1,
            start_date=datetime.fromtimestamp(first, UTC),
            id=name,
            args=(name, first),
        )

    async def stop() -> None:
        scheduler.shutdown(wait=False)
        await client.aclose()

    return stop


async def _sts(url: str, phases: list[float], calls: Calls, stop_at: float) -> Any:
    import logging

    from sts_webhook import WebhookTask

    import sts

    logging.getLogger("sts").setLevel(logging.WARNING)
    scheduler = sts.TaskScheduler(stop_grace="5s")

    def listener(event: str, **facts: Any) -> None:
        if event == "run_started":
            run = facts["run"]
            calls.started(run.fire_time.timestamp(), run.started_at.timestamp())
        elif event == "run_finished":
            record = facts["record"]
            if record.outcome is sts.Outcome.SUCCEEDED:
                calls.succeeded.append(record.fire_time.timestamp())

    scheduler.add_listener(listener)
    for number, first in enumerate(phases):
        name = f"job-{number}"
        task = WebhookTask(url, json={"job": "{job}"}, allow_hosts="127.0.0.1", name=name)
        anchor = datetime.fromtimestamp(first, UTC)
        scheduler.schedule(task, sts.IntervalTrigger(1.0, anchor=anchor), name=name)
    await scheduler.start()
    return scheduler.stop


STARTERS = {"httpx": _bare_httpx, "apscheduler": _apscheduler, "sts": _sts}


async def webhook_calls(
    contender: str,
    *,
    jobs: int,
    seconds: int,
    warm_up: float = WARM_UP,
    settle: float = SETTLE,
) -> dict[str, Any]:
    """``jobs`` calls a second for ``seconds`` through ``contender``, against a local server."""
    if contender not in STARTERS:
        raise ValueError(f"unknown contender {contender!r}: expected one of {CONTENDERS}")
    with local_server() as url:
        rng = random.Random(6)
        base = time.time() + 1.0 + jobs * 200e-6
        phases = [base + rng.random() for _ in range(jobs)]
        window_open = base + warm_up
        window_close = window_open + seconds
        calls = Calls()
        stop = await STARTERS[contender](url, phases, calls, window_close + settle)
        await sleep_until(window_open)
        cpu_before = cpu_seconds()
        await sleep_until(window_close)
        cpu_used = cpu_seconds() - cpu_before
        await sleep_until(window_close + settle)
        await stop()
    late = sorted(
        actual - nominal
        for nominal, actual in zip(calls.nominal, calls.actual, strict=True)
        if window_open <= nominal < window_close
    )
    done = sum(1 for nominal in calls.succeeded if window_open <= nominal < window_close)
    return {
        "jobs": jobs,
        "seconds": seconds,
        "calls_per_s": done / seconds,
        "failed": jobs * seconds - done,
        "p50_ms": percentile(late, 0.50) * 1e3,
        "p99_ms": percentile(late, 0.99) * 1e3,
        "cpu_us_per_call": cpu_used / max(1, done) * 1e6,
    }


def main(argv: list[str]) -> int:
    """``python -m bench.webhook [JOBS [SECONDS]]``: every contender, one after the other
    (``python -m bench`` runs the case too, at the issue's size)."""
    jobs = int(argv[0]) if argv else 1000
    seconds = int(argv[1]) if len(argv) > 1 else 20
    for contender in CONTENDERS:
        result = asyncio.run(webhook_calls(contender, jobs=jobs, seconds=seconds))
        print(contender, result, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

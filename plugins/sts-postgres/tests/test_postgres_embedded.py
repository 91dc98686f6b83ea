"""The embedded case: an ASGI app served by uvicorn with four worker processes, each
creating a ``TaskScheduler`` on the same store in its lifespan. Each job fires once per
period, not four times."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli_helpers import wait_for
from postgres_helpers import query
from replica_processes import read_log

APP = """
import asyncio, os
import sts
from sts_postgres import PostgresStore

_log = os.open(os.environ["FIRES_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


async def tick():
    run = sts.current_run()
    os.write(_log, f"{run.job} {run.fire_time.isoformat()} {os.getpid()}\\n".encode())


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                store = PostgresStore(os.environ["APP_DSN"], group="web", lease=5)
                scheduler = sts.TaskScheduler(name="web", store=store)
                for number in range(5):
                    scheduler.schedule(sts.FunctionTask(tick, name=f"tick{number}"), "every 1s")
                await scheduler.start()
                scope["state"]["scheduler"] = scheduler
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                scheduler = scope["state"]["scheduler"]
                await scheduler.stop()
                await asyncio.to_thread(scheduler.store.close)
                await send({"type": "lifespan.shutdown.complete"})
                return
    else:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
"""

WORKERS = 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_four_web_workers_fire_each_job_once_per_period(dsn: str, tmp_path: Path) -> None:
    (tmp_path / "webapp.py").write_text(APP)
    log = tmp_path / "fires.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STS_")},
        "APP_DSN": dsn,
        "FIRES_LOG": str(log),
        "PYTHONPATH": str(tmp_path),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "webapp:app", "--workers", str(WORKERS),
         "--port", str(free_port()), "--log-level", "warning", "--lifespan", "on"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for(
            lambda: (
                query(dsn, "SELECT count(*) FROM sts_replicas")[0][0] == WORKERS
                if query(dsn, "SELECT to_regclass('sts_replicas') IS NOT NULL")[0][0]
                else False
            ),
            timeout=60,
            what=f"{WORKERS} workers to join the group",
            process=server,
        )
        start = datetime.now(UTC) + timedelta(seconds=1)
        time.sleep(6)
        end = datetime.now(UTC) - timedelta(seconds=1)
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    fires = Counter((job, fire) for job, fire, _ in read_log(log))
    assert set(fires.values()) == {1}, [key for key, n in fires.items() if n > 1][:5]
    for number in range(5):
        seconds = sorted(fire for job, fire in fires if job == f"tick{number}")
        in_window = [fire for fire in seconds if start <= fire <= end]
        assert len(in_window) >= 4, (number, seconds)
        gaps = [b - a for a, b in itertools.pairwise(seconds)]
        assert set(gaps) == {timedelta(seconds=1)}, gaps  # one grid, nothing lost
    workers = {pid for _, _, pid in read_log(log)}
    assert len(workers) > 1, "the fires should spread over the workers"
    assert "Traceback" not in err, err

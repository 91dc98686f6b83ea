"""One measurement in a fresh process: ``python -m bench.worker '<json spec>'``.

The spec names the workload, the contender and the workload's sizes; the result is one
line of JSON on stdout. A process per measurement keeps one contender's heap, imports
and garbage from weighing on the next.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from . import workloads
from .contenders import Contender, Runs

WORKLOADS: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    "lateness": workloads.lateness,
    "burst": workloads.burst,
    "scale": workloads.scale,
    "idle": workloads.idle,
    "unnamed": workloads.unnamed,
}
CONTENDERS = ("asyncio", "apscheduler", "sts", "sts-info", "sts-sqlite")
#: Workloads that drive STS themselves, given the contender's name (``sts``, ``sts-email``).
STS_WORKLOADS = ("notify",)


def make_contender(name: str, runs: Runs, scratch: Path) -> Contender:
    """The contender called ``name``, keeping any files it writes under ``scratch``."""
    if name == "asyncio":
        from .contender_asyncio import BareAsyncio

        return BareAsyncio(runs)
    if name == "apscheduler":
        from .contender_apscheduler import APScheduler

        return APScheduler(runs)
    from .contender_sts import Sts

    if name == "sts":
        return Sts(runs)
    if name == "sts-info":
        return Sts(runs, name=name, log_file=scratch / "sts.log")
    if name == "sts-sqlite":
        from .sqlite import sqlite_store

        return Sts(runs, name=name, store=sqlite_store(scratch / "state.db"))
    raise ValueError(f"unknown contender {name!r}: expected one of {', '.join(CONTENDERS)}")


async def measure(spec: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """Run the workload of ``spec`` for its contender and return the figures."""
    if spec["workload"] == "webhook":  # contenders of its own: see bench/webhook.py
        from .webhook import webhook_calls

        return await webhook_calls(spec["contender"], **spec["params"])
    if spec["workload"] == "distributed":  # Celery beside STS: see bench/distributed.py
        from .distributed import distributed

        return await distributed(spec["contender"], **spec["params"])
    if spec["workload"] in STS_WORKLOADS:
        from .notify import notify

        return await notify(spec["contender"], **spec["params"])
    workload = WORKLOADS[spec["workload"]]
    runs = Runs()
    contender = make_contender(spec["contender"], runs, scratch)
    return await workload(contender, runs, **spec["params"])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.worker '<json spec>'", file=sys.stderr)
        return 2
    spec = json.loads(argv[0])
    with tempfile.TemporaryDirectory(prefix="sts-bench-") as scratch:
        result = asyncio.run(measure(spec, Path(scratch)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

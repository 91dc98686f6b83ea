"""Which measurements a run makes: the issue's sizes, or the smoke test's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PEERS = ("asyncio", "apscheduler", "sts")
#: The webhook case's contenders: a bare httpx loop is its floor (bench/webhook.py).
WEBHOOK_PEERS = ("httpx", "apscheduler", "sts")
#: STS as configured for the price tags: INFO logs to a file, and the SQLite store.
STS_VARIANTS = ("sts-info", "sts-sqlite")
#: The notification case: failing jobs without a notifier, and with an email: one.
NOTIFY = ("sts", "sts-email")
#: The replicas case: one to three STS processes on one PostgreSQL database, and two
#: APScheduler 4 processes on its SQLAlchemy data store (in a venv of its own, made on
#: first use: not in the quick plan).
REPLICAS = ("sts-1", "sts-3")
REPLICAS_FULL = ("sts-1", "sts-2", "sts-3", "apscheduler4-2")
#: The distributed case (bench/distributed.py): the same broker, two workers each.
DISTRIBUTED = ("celery", "sts")


@dataclass(frozen=True)
class Case:
    """One workload at one size, measured for each of ``contenders``."""

    workload: str
    title: str
    contenders: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


def full_plan() -> list[Case]:
    """The sizes of issue 6."""
    firing = PEERS + STS_VARIANTS
    return [
        Case("lateness", "1,000 jobs every second, 15 s", firing, {"jobs": 1000, "seconds": 15}),
        Case("lateness", "10,000 jobs every second, 15 s", firing, {"jobs": 10000, "seconds": 15}),
        Case("burst", "100,000 one-shot jobs due at once", firing, {"jobs": 100_000}),
        Case("scale", "100,000 jobs added", PEERS, {"jobs": 100_000}),
        Case("scale", "1,000,000 jobs added", PEERS, {"jobs": 1_000_000}),
        Case("idle", "1,000 jobs due in 60 s, 20 s watched", PEERS, {"jobs": 1000, "seconds": 20}),
        Case(
            "notify",
            "1,000 jobs failing every second (email: notifier, local SMTP) beside 1,000 healthy",
            NOTIFY,
            {"jobs": 1000, "seconds": 15},
        ),
        Case(
            "webhook",
            "1,000 HTTP calls every second, 20 s",
            WEBHOOK_PEERS,
            {"jobs": 1000, "seconds": 20},
        ),
        *unnamed_cases((2_000, 20_000, 200_000)),
        Case(
            "replicas",
            "1,000 jobs every second on PostgreSQL, 15 s",
            REPLICAS_FULL,
            {"jobs": 1000, "seconds": 15},
        ),
        Case(
            "replicas",
            "10,000 jobs every second on PostgreSQL, 15 s",
            REPLICAS_FULL,
            {"jobs": 10_000, "seconds": 15},
        ),
        Case(
            "replicas",
            "1,000 jobs due together every second on PostgreSQL, 15 s",
            REPLICAS,
            {"jobs": 1000, "seconds": 15, "spread": False},
        ),
        *distributed_cases(),
    ]


def distributed_cases() -> list[Case]:
    """Issue 16's case: fires run by two worker processes through RabbitMQ (a running
    broker on 127.0.0.1:5672); not in the quick plan, which needs no broker."""
    return [
        Case(
            "distributed",
            f"{jobs} fires due together every second, 10 s, 2 workers x 32",
            DISTRIBUTED,
            {"jobs": jobs, "seconds": 10, "concurrency": 32},
        )
        for jobs in (100, 300, 1000)
    ]


def unnamed_cases(sizes: tuple[int, ...]) -> list[Case]:
    """Issue 12's naming cases: unnamed tasks of one class, and one task scheduled again and
    again, at each size; STS alone, since the others name jobs by random ids."""
    return [
        Case("unnamed", f"{size:,} {what}", ("sts",), {"jobs": size, "repeat": repeat})
        for size in sizes
        for what, repeat in (("unnamed tasks of one class", False), ("schedules of one task", True))
    ]


def quick_plan() -> list[Case]:
    """Small sizes that go through every code path in well under a minute."""
    firing = PEERS + STS_VARIANTS
    return [
        Case(
            "lateness",
            "300 jobs every second, 1 s",
            firing,
            {"jobs": 300, "seconds": 1, "warm_up": 0.5, "settle": 0.3},
        ),
        Case("burst", "5,000 one-shot jobs due at once", firing, {"jobs": 5000}),
        Case("scale", "10,000 jobs added", PEERS, {"jobs": 10_000, "removals": 100}),
        Case("idle", "100 jobs due in 60 s, 1 s watched", PEERS, {"jobs": 100, "seconds": 1}),
        Case(
            "notify", "50 failing jobs beside 50 healthy, 2 s", NOTIFY, {"jobs": 50, "seconds": 2}
        ),
        Case(
            "webhook",
            "20 HTTP calls every second, 1 s",
            WEBHOOK_PEERS,
            {"jobs": 20, "seconds": 1, "warm_up": 1.0, "settle": 1.0},
        ),
        *unnamed_cases((2_000,)),
        Case(
            "replicas",
            "50 jobs every second on PostgreSQL, 2 s",
            REPLICAS,
            {"jobs": 50, "seconds": 2, "warm_up": 1.0, "settle": 1.0},
        ),
    ]

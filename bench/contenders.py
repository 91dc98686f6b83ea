"""What the workloads drive: a scheduler that adds, removes and fires jobs.

Each contender runs the same trivial async task, which only notes when it started
(``Runs.started``), so the workloads measure the schedulers and not the work.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Runs:
    """The nominal fire time and the actual start time of every run, in wall seconds."""

    def __init__(self, expected: int = 0) -> None:
        self.nominal: list[float] = []
        self.actual: list[float] = []
        self.expected = expected
        self.all_started = asyncio.Event()

    def started(self, nominal: float) -> None:
        self.actual.append(time.time())
        self.nominal.append(nominal)
        if len(self.actual) == self.expected:
            self.all_started.set()


class Contender(Protocol):
    """One scheduler, driven through its public API."""

    name: str

    async def start(self) -> None:
        """Start the scheduler on the running loop."""
        ...

    def add_interval(self, name: str, interval: float, first: float | None) -> None:
        """A job every ``interval`` seconds, first at ``first`` (wall seconds), or one
        interval from now when ``first`` is ``None``."""
        ...

    def add_once(self, name: str, at: float) -> None:
        """A job that fires once, at ``at`` (wall seconds)."""
        ...

    def remove(self, name: str) -> None:
        """Remove the job named ``name``."""
        ...

    async def stop(self) -> None:
        """Stop the scheduler."""
        ...


class NamesJobs(Contender, Protocol):
    """A contender that names the jobs it is given no name for."""

    def add_unnamed(self, *, repeat: bool) -> None:
        """An hourly job with no name given: a new task of one class each time, or (with
        ``repeat``) the same task scheduled once more."""
        ...

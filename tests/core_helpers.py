"""Small tasks shared by the core tests."""

from __future__ import annotations

import asyncio
from datetime import datetime

import sts
from sts.testing import VirtualClock


class Recorder(sts.Task):
    """Records the wall-clock instant of each run, its context, and can fail or hang."""

    def __init__(
        self,
        clock: VirtualClock,
        *,
        name: str | None = None,
        fail_times: int = 0,
        duration: float = 0.0,
        error: type[BaseException] = RuntimeError,
    ) -> None:
        super().__init__(name=name)
        self.clock = clock
        self.fail_times = fail_times
        self.duration = duration
        self.error = error
        self.starts: list[datetime] = []
        self.contexts: list[sts.RunContext] = []
        self.finished = 0

    async def run(self) -> None:
        self.starts.append(self.clock.now())
        self.contexts.append(sts.current_run())
        if self.duration:
            await asyncio.sleep(self.duration)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise self.error("boom")
        self.finished += 1


def offsets(clock: VirtualClock, instants: list[datetime], origin: datetime) -> list[float]:
    """Seconds from ``origin`` to each instant, rounded to the millisecond."""
    return [round((instant - origin).total_seconds(), 3) for instant in instants]

"""What every workload measures with: CPU time, resident memory, loop wakeups, percentiles."""

from __future__ import annotations

import asyncio
import math
import resource
import selectors
import time
from collections.abc import Sequence
from typing import Any

import psutil  # type: ignore[import-untyped]


def cpu_seconds() -> float:
    """CPU time of this process so far (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    """Resident memory of this process."""
    return int(psutil.Process().memory_info().rss)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of an already sorted sequence (``nan`` when empty)."""
    if not ordered:
        return math.nan
    rank = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[rank]


async def sleep_until(wall: float) -> None:
    """Sleep until the wall clock reads ``wall`` (seconds since the epoch)."""
    delay = wall - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


class WakeupCounter:
    """Counts how often the event loop waits on its selector, that is, wakes up later.

    Every wakeup of an asyncio loop, by a timer or by I/O, is one return from
    ``selector.select``; a scheduler with nothing due should cause none. This wraps the
    private ``_selector`` of the default (selector) loop, which is fine for a benchmark.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        selector: selectors.BaseSelector = loop._selector  # type: ignore[attr-defined]
        self.count = 0
        self._selector = selector
        self._select = selector.select

        def counting_select(timeout: float | None = None) -> list[Any]:
            # A zero timeout is a poll between ready callbacks, not a wait that ended.
            if timeout is None or timeout > 0:
                self.count += 1
            return self._select(timeout)

        selector.select = counting_select  # type: ignore[method-assign]

    def close(self) -> None:
        self._selector.select = self._select  # type: ignore[method-assign]

"""A virtual clock: an event loop whose time jumps ahead whenever it would wait.

A week of schedule runs in milliseconds, and every timer (``asyncio.sleep``,
``asyncio.timeout``, the scheduler's own waits) uses the same virtual time, so timing
semantics are tested exactly and without sleeping.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")

_DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


class _JumpingSelector(selectors.DefaultSelector):
    """A selector that, instead of blocking until the next timer, moves the clock there."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None or timeout <= 0 or self._clock._real_waits:
            # Nothing is scheduled (block until another thread wakes the loop), something
            # is ready now, or a task awaits real work (``wait_real``): all real waits of
            # zero virtual time.
            return super().select(timeout)
        # Let real I/O and threads that finish within the threshold go first, so that a
        # thread or subprocess doing real work is not overtaken by a jump.
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(
            self._clock.autojump_threshold
        )
        if ready:
            return ready
        self._clock._monotonic += timeout
        return []


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An event loop that reads its time from a :class:`VirtualClock`."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(selector=_JumpingSelector(clock))
        self._virtual_clock = clock

    def time(self) -> float:
        return self._virtual_clock._monotonic


class VirtualClock:
    """A wall clock and a monotonic clock that advance only when the loop would wait.

    Use :meth:`run` to run a coroutine on a loop driven by this clock::

        clock = VirtualClock(start="2026-03-29T00:00:00+01:00")

        async def main():
            async with sts.TaskScheduler(clock=clock) as scheduler:
                ...
                await asyncio.sleep(3600)   # an hour passes at once

        clock.run(main())

    :param start: the wall-clock instant at which the clock starts (aware datetime or
        ISO 8601 text).
    :param autojump_threshold: real seconds the loop waits for real I/O (threads,
        subprocesses) before it jumps; 0 jumps at once.
    """

    def __init__(
        self, start: datetime | str = _DEFAULT_START, *, autojump_threshold: float = 0.0
    ) -> None:
        if isinstance(start, str):
            start = datetime.fromisoformat(start)
        if start.tzinfo is None:
            raise ValueError(f"the virtual clock needs an aware start time, got {start!r}")
        self._monotonic = 1_000.0
        self._wall_offset = start.timestamp() - self._monotonic
        self.autojump_threshold = autojump_threshold
        self._real_waits = 0

    def timestamp(self) -> float:
        return self._monotonic + self._wall_offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def monotonic(self) -> float:
        """The loop's time (``loop.time()``)."""
        return self._monotonic

    def jump(self, seconds: float | timedelta) -> None:
        """Move the wall clock without moving monotonic time: a suspend or an NTP step.

        Timers already set still fire by monotonic time, as on a real machine; the
        scheduler notices the jump when it next wakes.
        """
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        self._wall_offset += seconds

    async def wait_real(self, work: Awaitable[T]) -> T:
        """Await ``work`` done outside the loop (a thread, the disk) without jumping time
        meanwhile: the scheduler's commit before a run, which takes real milliseconds."""
        self._real_waits += 1
        try:
            return await work
        finally:
            self._real_waits -= 1

    def new_event_loop(self) -> VirtualEventLoop:
        return VirtualEventLoop(self)

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to completion on a fresh loop driven by this clock."""
        with asyncio.Runner(loop_factory=self.new_event_loop) as runner:
            return runner.run(main)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now().isoformat()})"

"""Where the scheduler reads the time.

Fire times are wall-clock instants (aware, UTC); waiting uses the event loop's monotonic
timers. A clock only answers "what time is it on the wall?", so the virtual clock of
``sts.testing`` can replace it along with the loop whose timers it drives.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """The wall clock the scheduler fires by."""

    def timestamp(self) -> float:
        """Seconds since the epoch, UTC."""
        ...

    def now(self) -> datetime:
        """The current instant, an aware datetime in UTC."""
        ...

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop ``TaskScheduler.run()`` runs on: one whose timers follow this
        clock (the virtual clock's jumps over waits). A clock without this method gets
        asyncio's own loop."""
        ...


class SystemClock:
    """The machine's clock: ``time.time()``."""

    def timestamp(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.new_event_loop()

    def __repr__(self) -> str:
        return "SystemClock()"

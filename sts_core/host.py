"""What the scheduler's parts (the fire loop, the runner, the job changes) use of their
scheduler.

They hold this view rather than the scheduler: its name, clock and store, read each time,
since ``sts run module:object`` may swap the store in before the start (and a reload sets
the default zone anew).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Protocol

from .clock import Clock
from .plugins import Plugins
from .store import StateStore

__all__ = ["Host", "SchedulingHost"]


class Host(Protocol):
    """A scheduler, as its parts see it."""

    name: str
    clock: Clock
    store: StateStore


class SchedulingHost(Host, Protocol):
    """A scheduler, as the part that changes its jobs sees it: also the default zone of its
    calendar triggers, and the plugins that make triggers and may refuse a job."""

    timezone: tzinfo
    plugins: Plugins

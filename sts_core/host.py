"""What the scheduler's parts (the fire loop, the runner) use of their scheduler.

They hold this view rather than the scheduler: its name, clock and store, read each time,
since ``sts run module:object`` may swap the store in before the start.
"""

from __future__ import annotations

from typing import Protocol

from .clock import Clock
from .store import StateStore

__all__ = ["Host"]


class Host(Protocol):
    """A scheduler, as its parts see it."""

    name: str
    clock: Clock
    store: StateStore

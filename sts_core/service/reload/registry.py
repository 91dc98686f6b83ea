"""Which scheduler has a reloader: kept apart from the reloader itself, so that asking
costs a starting scheduler no import of the configuration machinery."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...scheduler import TaskScheduler
    from .reloader import Reloader

_reloaders: weakref.WeakKeyDictionary[TaskScheduler, Reloader] = weakref.WeakKeyDictionary()


def reloader_of(scheduler: TaskScheduler) -> Reloader | None:
    """The reloader of a scheduler built from a configuration, or ``None``."""
    return _reloaders.get(scheduler)


def set_reloader(scheduler: TaskScheduler, reloader: Reloader) -> None:
    _reloaders[scheduler] = reloader

"""The start-up line: where a scheduler's config, jobs, state and socket are, and its zone,
so that its log answers "which scheduler is this, and what does it run". Logged by the
service's built-in plugin as the scheduler starts (``sts_scheduler_started``), from facts
the service knows and the engine does not (the config file, the control socket)."""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..timezones import zone_label

if TYPE_CHECKING:
    from ..scheduler import TaskScheduler

logger = logging.getLogger("sts")


@dataclass(slots=True)
class ServiceFacts:
    """What the service set up for one scheduler."""

    config_file: str | None = None
    #: The control socket's path while a control server answers for the scheduler.
    socket: str | None = None


_facts: weakref.WeakKeyDictionary[TaskScheduler, ServiceFacts] = weakref.WeakKeyDictionary()


def facts_of(scheduler: TaskScheduler) -> ServiceFacts:
    found = _facts.get(scheduler)
    if found is None:
        found = _facts[scheduler] = ServiceFacts()
    return found


def log_start_line(scheduler: TaskScheduler) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    facts = _facts.get(scheduler) or ServiceFacts()
    store_path = getattr(scheduler.store, "path", None)
    fields: dict[str, Any] = {
        "event": "scheduler_started",
        "scheduler": scheduler.name,
        "config_file": facts.config_file,
        "jobs": len(scheduler.jobs),
        "state_file": None if store_path is None else str(store_path),
        "timezone": zone_label(scheduler.timezone),
        "socket": facts.socket,
    }
    logger.info(
        "scheduler %s started: config %s, %d jobs, state %s, zone %s, socket %s",
        scheduler.name,
        facts.config_file or "none",
        fields["jobs"],
        fields["state_file"] or "in memory",
        fields["timezone"],
        facts.socket or "none",
        extra=fields,
    )

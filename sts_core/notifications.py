"""What a notifier is told, and what it is: the contract of the notification channels that
plugins register (``sts_register_notifiers``: ``email:``, ``webhook:``).

Which runs are news, the throttle, grouping and delivery are the service's
(``sts_core/service/notifications.py``, wired in by its built-in plugin).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol, runtime_checkable

from .notify_policy import MISSED, RECOVERY
from .records import RunRecord


@lru_cache(maxsize=1)
def host_name() -> str:
    """This machine's name, as notifications report it."""
    return socket.gethostname()


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """What a notifier is told: a job failed, recovered, or missed fires."""

    job: str
    kind: str
    """``"failure"`` (the run failed or timed out after its retries), ``"recovery"`` (the
    first success after a failure) or ``"missed"`` (fires that could not start in time)."""
    record: RunRecord
    """The run's last record: outcome, error, attempt, duration, output tail."""
    fire_time: datetime
    """The fire's nominal instant in the job's time zone."""
    fire_time_utc: datetime
    scheduler: str
    host: str
    channel: str
    """The ``scheme:target`` this notification goes to."""
    suppressed: int = 0
    """How many notifications of this job on this channel the throttle held back since
    the last one sent."""

    @property
    def outcome(self) -> str:
        return str(self.record.outcome)

    @property
    def error(self) -> str | None:
        return self.record.error

    @property
    def attempt(self) -> int:
        return self.record.attempt

    @property
    def duration(self) -> float | None:
        return self.record.duration

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def summary(self) -> str:
        """One line for a subject or a chat message:
        ``backup failed on host1: timed out after 1800s``."""
        if self.kind == RECOVERY:
            text = f"{self.job} recovered on {self.host}"
        elif self.kind == MISSED:
            count = self.record.missed_count or 1
            text = f"{self.job} missed {count} fire{'s' if count != 1 else ''} on {self.host}"
        else:
            text = f"{self.job} failed on {self.host}"
            if self.record.error:
                text += f": {self.record.error}"
        return text

    def describe(self) -> str:
        """The facts, one per line, for the body of a message."""
        record = self.record
        lines = [
            self.summary,
            "",
            f"job:        {self.job}",
            f"event:      {self.kind}",
            f"outcome:    {record.outcome}",
            f"fire time:  {self.fire_time.isoformat()} ({self.fire_time_utc.isoformat()})",
            f"run:        {record.run_id}, attempt {record.attempt}",
        ]
        if record.duration is not None:
            lines.append(f"duration:   {record.duration:.3f}s")
        if record.error:
            lines.append(f"error:      {record.error}")
        lines.append(f"scheduler:  {self.scheduler} on {self.host}")
        if self.suppressed:
            lines.append(
                f"suppressed: {self.suppressed} notification(s) of this job were held back "
                f"since the last one"
            )
        for stream, tail in record.output.items():
            lines += ["", f"--- {stream} (tail) ---", tail.rstrip("\n")]
        return "\n".join(lines) + "\n"


@runtime_checkable
class Notifier(Protocol):
    """What a ``sts_register_notifiers`` factory returns: ``factory(target, **options)``.

    It may also define ``async def aclose(self) -> None``, called when the scheduler
    stops (close a connection kept for a burst of notifications there). A scheduler that
    starts again calls ``notify`` again: open connections lazily.

    A notifier that defines ``async def notify_group(self, events) -> None`` (a sequence of
    two or more events, in the order they happened) is given notifications grouped: those
    ready within its attribute ``group_wait`` (seconds, default 0) of the first, and those
    that became ready while its last delivery was under way, at most ``group_max``
    (default 100) at once. A group is retried, or recorded undelivered, as a whole.
    """

    async def notify(self, event: NotificationEvent) -> None:
        """Deliver ``event``. Raise to have it retried; raise ``sts.PermanentError`` for a
        failure that retrying cannot fix (a rejected recipient)."""
        ...


NotifierFactory = Callable[..., Notifier]

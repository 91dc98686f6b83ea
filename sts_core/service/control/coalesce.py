"""Coalesced events: ``subscribe`` with ``coalesce`` (seconds) gets one ``batch`` event per
interval instead of every event: each changed job's newest row once, the jobs removed,
and the last events of the interval, counted. (A batch of more than ``ROWS_PER_LINE`` rows
comes as several ``batch`` events, back to back.)

A client following 1,000 fires a second spent a third of its time decoding 2,000 events
a second, each with its job's full row; most of those rows were overwritten by the next
one before the client drew them. A batch carries each row once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from .protocol import encode

#: The bounds of ``coalesce`` (seconds).
SHORTEST = 0.05
LONGEST = 10.0
#: The most events a batch carries whole (the log of a client shows a screenful); the
#: rest are counted in its ``count``.
EVENTS_PER_BATCH = 50
#: The most job rows one ``batch`` line carries; more go in several lines, the last of
#: which carries the removed names, the events and the count. A burst of 10,000 rows in
#: one line of 3 MB was decoded in one go, holding the client's loop (and a keystroke
#: waiting on it) for tens of milliseconds.
ROWS_PER_LINE = 1000


class Coalescer:
    """Collects one subscriber's events and sends them as a batch every ``interval``.

    :param send: writes one line to the subscriber.
    """

    def __init__(self, interval: float, send: Callable[[bytes], None]) -> None:
        self.interval = interval
        self._send = send
        self._rows: dict[str, dict[str, Any] | None] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=EVENTS_PER_BATCH)
        self._count = 0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, event: str, data: dict[str, Any]) -> None:
        row = data.get("job")
        if isinstance(row, dict):
            removed = event == "job_changed" and data.get("change") == "removed"
            self._rows[row["name"]] = None if removed else row
        # The rows travel once, in the batch's "jobs"; an event keeps the rest, and the name
        # of its job where nothing else in it says which (job_changed).
        slim = {key: value for key, value in data.items() if key != "job"}
        if event == "job_changed" and isinstance(row, dict):
            slim["name"] = row["name"]
        self._events.append({"event": event, "data": slim})
        self._count += 1
        if event == "scheduler_stopping":
            self.flush()  # the last word before the socket closes: at once
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._count:
            return
        rows = [row for row in self._rows.values() if row is not None]
        while len(rows) > ROWS_PER_LINE:
            part, rows = rows[:ROWS_PER_LINE], rows[ROWS_PER_LINE:]
            self._send(_batch(part, [], [], 0))
        removed = [name for name, row in self._rows.items() if row is None]
        self._send(_batch(rows, removed, list(self._events), self._count))
        self._rows, self._events, self._count = {}, deque(maxlen=EVENTS_PER_BATCH), 0

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _batch(
    rows: list[dict[str, Any]], removed: list[str], events: list[dict[str, Any]], count: int
) -> bytes:
    data = {"jobs": rows, "removed": removed, "events": events, "count": count}
    return encode({"event": "batch", "data": data})

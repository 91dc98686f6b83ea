"""The control protocol's wire format: JSON lines, versioned, and how things are encoded.

Every message is one JSON object on one line (UTF-8, ``\\n``-terminated). A request is
``{"id": 1, "command": "jobs", "arguments": {...}}``; its response carries the same id:
``{"id": 1, "ok": true, "result": {...}}`` or ``{"id": 1, "ok": false, "error": {"code":
..., "message": ...}}``. After ``subscribe``, events arrive on the same connection as
``{"event": "run_finished", "data": {...}}`` (no id). See ``docs/control-protocol.md``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...records import RunContext, RunRecord

#: Bumped when a change would break an existing client; additions keep the number.
PROTOCOL_VERSION = 1

#: The longest line either side accepts (a ``jobs`` answer for 10,000 jobs is ~3 MB).
MAX_LINE = 64 * 1024 * 1024

COMMANDS = (
    "hello",
    "jobs",
    "history",
    "plan",
    "trigger",
    "pause",
    "resume",
    "remove",
    "stats",
    "subscribe",
    "unsubscribe",
)
EVENTS = ("run_started", "run_finished", "job_changed")


class ControlError(Exception):
    """The scheduler answered a control request with an error.

    :param code: a stable, machine-readable reason (``unknown_job``, ``bad_argument``, ...).
    :param message: a sentence for the user.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of JSON."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One line of JSON as a message.

    :raises ControlError: ``bad_request`` when the line is no JSON object.
    """
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ControlError("bad_request", f"the line is not valid JSON: {error}") from None
    if not isinstance(message, dict):
        raise ControlError("bad_request", "each line must be one JSON object")
    return message


def instant(value: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC (``2026-01-01T03:00:00+00:00``), or ``None``."""
    return None if value is None else value.astimezone(UTC).isoformat()


def parse_instant(value: str | None) -> datetime | None:
    """The inverse of :func:`instant`."""
    return None if value is None else datetime.fromisoformat(value)


def zone_name(zone: tzinfo | None) -> str | None:
    """An IANA name for a zone when it has one (``Europe/Berlin``), else its ``str``."""
    if zone is None:
        return None
    return str(getattr(zone, "key", None) or zone)


def run_to_dict(run: RunContext) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "job": run.job,
        "fire_time": instant(run.fire_time),
        "attempt": run.attempt,
        "started_at": instant(run.started_at),
        "manual": run.manual,
    }


def record_to_dict(record: RunRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "job": record.job,
        "fire_time": instant(record.fire_time),
        "outcome": str(record.outcome),
        "attempt": record.attempt,
        "started_at": instant(record.started_at),
        "finished_at": instant(record.finished_at),
        "duration": record.duration,
        "error": record.error,
        "traceback": record.traceback,
        "retry_at": instant(record.retry_at),
        "manual": record.manual,
        "missed_count": record.missed_count,
        "output": dict(record.output),
    }

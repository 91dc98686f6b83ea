"""The control protocol's wire format: JSON lines, versioned, and how things are encoded.

Every message is one JSON object on one line (UTF-8, ``\\n``-terminated). A request is
``{"id": 1, "command": "jobs", "arguments": {...}}``; its response carries the same id:
``{"id": 1, "ok": true, "result": {...}}`` or ``{"id": 1, "ok": false, "error": {"code":
..., "message": ...}}``. After ``subscribe``, events arrive on the same connection as
``{"event": "run_finished", "data": {...}}`` (no id). See ``docs/control-protocol.md``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...records import RunContext, RunRecord
    from ...store import StateStore

#: Bumped when a change would break an existing client; additions keep the number.
PROTOCOL_VERSION = 1

#: The longest line a client accepts (a ``jobs`` answer for 10,000 jobs is ~3 MB).
MAX_LINE = 64 * 1024 * 1024
#: The longest request line the scheduler accepts: requests are small, answers are not.
MAX_REQUEST_LINE = 1024 * 1024
#: Bytes of unfinished request lines the scheduler holds for all clients together; beyond
#: it, a line is refused (``overloaded``) rather than letting hostile clients grow memory.
MAX_BUFFERED_REQUESTS = 64 * 1024 * 1024
#: How deeply a request's arrays and objects may nest.
MAX_DEPTH = 32
#: The most digits an integer in a request may have (a 64-bit number has at most 19).
MAX_INTEGER_DIGITS = 19
#: The longest request id (text) the scheduler echoes back.
MAX_ID_LENGTH = 256

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
    "reload",
    "subscribe",
    "unsubscribe",
)
EVENTS = ("run_started", "run_finished", "job_changed", "reloaded", "scheduler_stopping")
#: Additions to protocol 1 that ``hello`` lists, so that a client knows what it may ask.
FEATURES = ("jobs_pages", "row_revisions", "coalesce")


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

    :raises ControlError: ``bad_request`` when the line is no JSON object, ``bad_number``
        for ``NaN``, ``Infinity`` or an integer of more than 19 digits, ``too_deep`` for
        arrays and objects nested more than 32 levels.
    """
    try:
        message = json.loads(
            line, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ControlError("bad_request", f"the line is not valid JSON: {error}") from None
    except RecursionError:
        # The C parser gives up near Python's recursion limit, before any depth check of ours.
        raise _too_deep() from None
    if not isinstance(message, dict):
        raise ControlError("bad_request", "each line must be one JSON object")
    _check_depth(message)
    return message


def decode_answer(line: bytes) -> dict[str, Any]:
    """One line from the scheduler, for a client: plain JSON, without the limits that
    :func:`decode` puts on requests. The scheduler's own lines need no guard against
    hostile nesting or numbers, and a client following thousands of events a second
    spent most of its time in those checks.

    :raises ControlError: ``bad_request`` when the line is no JSON object.
    """
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ControlError("bad_request", f"the line is not valid JSON: {error}") from None
    if not isinstance(message, dict):
        raise ControlError("bad_request", "each line must be one JSON object")
    return message


def request_id(message: dict[str, Any]) -> str | int | None:
    """The request's ``id``, which the answer echoes: text, a whole number, or absent.

    :raises ControlError: ``bad_request`` for any other id (a fraction, an object, ...).
    """
    value = message.get("id")
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and len(value) <= MAX_ID_LENGTH:
        return value
    raise ControlError(
        "bad_request",
        f"a request id must be text of at most {MAX_ID_LENGTH} characters or a whole "
        f"number, got {type(value).__name__} {_shorten(repr(value))}",
    )


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ControlError(
            "bad_number",
            f"the number {_shorten(text)} has {len(text.lstrip('-'))} digits; "
            f"at most {MAX_INTEGER_DIGITS} are accepted",
        )
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ControlError("bad_number", f"the number {_shorten(text)} is too large")
    return value


def _no_constant(text: str) -> float:
    raise ControlError("bad_number", f"{text} is not a JSON number; use a finite number")


def _check_depth(value: object) -> None:
    # Iterative, so that the check itself cannot exhaust the stack.
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children: Any = item.values() if isinstance(item, dict) else item
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise _too_deep()
            pending.extend((child, depth + 1) for child in children)


def _too_deep() -> ControlError:
    return ControlError(
        "too_deep", f"the request nests arrays and objects more than {MAX_DEPTH} levels deep"
    )


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def instant(value: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC (``2026-01-01T03:00:00+00:00``), or ``None``."""
    return None if value is None else value.astimezone(UTC).isoformat()


def run_to_dict(run: RunContext) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "job": run.job,
        "fire_time": instant(run.fire_time),
        "attempt": run.attempt,
        "started_at": instant(run.started_at),
        "manual": run.manual,
    }


def history_rows(
    store: StateStore, job: str | None, *, limit: int, failed_only: bool
) -> list[dict[str, Any]]:
    """The runs ``history`` answers with. A store shared by replicas that says which one
    made each record (``history_with_replicas``, as sts-postgres's does) adds
    ``replica`` to each run."""
    with_replicas = getattr(store, "history_with_replicas", None)
    if with_replicas is None:
        records = store.history(job, limit=limit, failed_only=failed_only)
        return [record_to_dict(record) for record in records]
    pairs: list[tuple[RunRecord, str]] = with_replicas(job, limit=limit, failed_only=failed_only)
    return [record_to_dict(record) | {"replica": replica} for record, replica in pairs]


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

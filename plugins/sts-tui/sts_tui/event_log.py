"""The live event log: runs started and finished, retries, missed and skipped fires,
job changes and the connection's own news, coloured by outcome."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from . import format as fmt

MAX_LINES = 500


def describe(event: str, data: dict[str, Any]) -> tuple[str, str] | None:
    """An event as (text, style), or ``None`` for events the log does not show."""
    if event == "run_started":
        run = data["run"]
        how = "manual run" if run["manual"] else "run"
        attempt = f" (attempt {run['attempt']})" if run["attempt"] > 1 else ""
        return f"▶ {run['job']}: {how} started{attempt}", "cyan"
    if event == "run_finished":
        record = data["record"]
        outcome = record["outcome"]
        job = record["job"]
        symbol = fmt.outcome_label(outcome)
        if outcome in ("missed", "skipped"):
            return f"{symbol} {job}: {record['error']}", fmt.outcome_style(outcome)
        text = f"{symbol} {job} in {fmt.duration(record['duration'])}"
        if record["manual"]:
            text += " (manual)"
        if record["error"]:
            text += f": {record['error']}"
        if record["retry_at"]:
            retry_at = fmt.parse(record["retry_at"])
            assert retry_at is not None
            return f"{text}; retrying at {fmt.clock_time(retry_at)}", "yellow"
        return text, fmt.outcome_style(outcome)
    if event == "job_changed":
        job = data["job"]
        return f"● {job['name']}: {data['change']}", "blue"
    if event == "reloaded":
        if not data.get("ok"):
            errors = data.get("errors") or ["?"]
            return f"✗ reload refused: {errors[0]}", "red"
        return f"↻ reloaded: {data.get('summary', '')}", "blue"
    return None


class EventLog(RichLog):
    """The log, plus its plain text (``entries``) for tests and copying."""

    def __init__(self, clock: Callable[[], datetime], **options: Any) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, **options)
        self.clock = clock
        self.zone: tzinfo | None = None
        self.entries: deque[str] = deque(maxlen=MAX_LINES)

    def add(self, text: str, style: str = "", when: datetime | None = None) -> None:
        """A line of the log; ``text`` may hold job names and errors: it is shown escaped."""
        stamp = fmt.clock_time(when or self.clock(), self.zone)
        shown = fmt.plain(text, style)
        self.entries.append(f"{stamp} {shown.plain}")
        line = Text(f"{stamp} ", style="dim")
        line.append_text(shown)
        self.write(line)

    def add_event(self, event: str, data: dict[str, Any]) -> None:
        described = describe(event, data)
        if described is not None:
            self.add(*described)

"""The live event log: runs started and finished, retries, missed and skipped fires,
job changes and the connection's own news, coloured by outcome."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from rich.text import Text
from textual.widgets import RichLog

from . import format as fmt
from .times import TimeZones

#: Lines kept (to scroll back through). Until it is full each write costs a layout pass.
MAX_LINES = 200


class Line(NamedTuple):
    """A line of the log, kept so that it can be written again in another zone."""

    when: datetime
    text: str
    style: str
    job_zone: str | None


def describe(
    event: str,
    data: dict[str, Any],
    times: TimeZones | None = None,
    job_zone: str | None = None,
) -> tuple[str, str] | None:
    """An event as (text, style), or ``None`` for events the log does not show.

    :param times: the zone setting for the times in the text (the scheduler's zone, UTC).
    :param job_zone: the zone of the event's job (for "each job's zone").
    """
    times = times or TimeZones()
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
            retry_at = times.clock(fmt.parse(record["retry_at"]), job_zone)
            return f"{text}; retrying at {retry_at}", "yellow"
        return text, fmt.outcome_style(outcome)
    if event == "job_changed":
        # A coalesced batch names the job instead of carrying its row.
        name = (data.get("job") or {}).get("name") or data.get("name", "?")
        return f"● {name}: {data['change']}", "blue"
    if event == "reloaded":
        if not data.get("ok"):
            errors = data.get("errors") or ["?"]
            return f"✗ reload refused: {errors[0]}", "red"
        return f"↻ reloaded: {data.get('summary', '')}", "blue"
    if event == "scheduler_stopping":
        runs = data.get("runs_in_flight") or 0
        waiting = f", waiting for {runs} runs to finish" if runs else ""
        return f"■ the scheduler is stopping{waiting}", "bold red"
    return None


def _when(event: str, data: dict[str, Any]) -> datetime | None:
    """When the event happened, by the scheduler's clock."""
    if event == "run_started":
        return fmt.parse(data["run"]["started_at"])
    if event == "run_finished":
        record = data["record"]
        return fmt.parse(record["finished_at"] or record["fire_time"])
    if event == "scheduler_stopping":
        return fmt.parse(data["at"])
    return None


class EventLog(RichLog):
    """The log, plus its plain text (``entries``) for tests and copying. Its times are in
    the zone ``times`` says; :meth:`redraw` writes them again when that changes."""

    def __init__(
        self, clock: Callable[[], datetime], times: TimeZones | None = None, **options: Any
    ) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, **options)
        self.clock = clock
        self.times = times or TimeZones()
        self.kept: deque[Line] = deque(maxlen=MAX_LINES)
        self.entries: deque[str] = deque(maxlen=MAX_LINES)
        self._unwritten: list[Text] = []

    def add(
        self,
        text: str,
        style: str = "",
        when: datetime | None = None,
        job_zone: str | None = None,
        *,
        flush: bool = True,
    ) -> None:
        """A line of the log; ``text`` may hold job names and errors: it is shown escaped.

        :param flush: write it now; else it waits for :meth:`flush` (a batch of events is
            one write: each write of a ``RichLog`` costs milliseconds, whatever its size).
        """
        line = Line(when or self.clock(), text, style, job_zone)
        self.kept.append(line)
        self._stamp(line)
        if flush:
            self.flush()

    def _stamp(self, line: Line) -> None:
        stamp = self.times.clock(line.when, line.job_zone)
        shown = fmt.plain(line.text, line.style)
        self.entries.append(f"{stamp} {shown.plain}")
        rendered = Text(f"{stamp} ", style="dim")
        rendered.append_text(shown)
        self._unwritten.append(rendered)

    def flush(self) -> None:
        """Write the lines added since the last write, in one write."""
        if self._unwritten:
            self.write(Text("\n").join(self._unwritten))
            self._unwritten = []

    def add_event(
        self,
        event: str,
        data: dict[str, Any],
        *,
        job_zone: str | None = None,
        flush: bool = True,
    ) -> None:
        """:param job_zone: the event's job's zone; by default its row's, if it has one."""
        zone = job_zone or (data.get("job") or {}).get("timezone")
        described = describe(event, data, self.times, zone)
        if described is not None:
            self.add(*described, when=_when(event, data), job_zone=zone, flush=flush)

    def redraw(self) -> None:
        """Write every kept line again, in the zone ``times`` now says."""
        self.clear()
        self.entries.clear()
        for line in self.kept:
            self._stamp(line)
        self.flush()

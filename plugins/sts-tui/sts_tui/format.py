"""How the UI writes times, durations and outcomes: pure functions, tested on their own."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text

import sts

#: Outcome -> (symbol, Rich style).
OUTCOME_STYLES = {
    "succeeded": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "timed_out": ("✗", "red"),
    "cancelled": ("⊘", "yellow"),
    "missed": ("⚠", "magenta"),
    "skipped": ("↷", "bright_black"),
    "interrupted": ("↯", "red"),
    # Not a run: a notification about one was not delivered (docs/notifications.md).
    "notify_failed": ("✉", "yellow"),
}


def plain(text: str | None, style: str = "") -> Text:
    """Text that users or their tasks wrote (a job name, an error) as the UI shows it: its
    control characters escaped (``sts.printable``, as the ``sts`` commands do), and never read
    as Rich markup, so a job named ``[bold]x`` shows those brackets."""
    return Text(sts.printable(text or ""), style=style)


def plain_lines(text: str, style: str = "") -> Text:
    """Like :func:`plain` for text of several lines (a traceback, an output tail): each line
    escaped, the line breaks kept."""
    return Text("\n".join(sts.printable(line) for line in text.splitlines()), style=style)


def paused_marker(row: dict[str, Any]) -> Text:
    """``‖ paused`` for a job a user paused; ``‖ set aside: <why>`` for one the scheduler set
    aside itself (a broken trigger), with the row's ``paused_reason``."""
    reason = row.get("paused_reason")
    if not reason:
        return Text("‖ paused", style="bold yellow")
    return plain(f"‖ set aside: {reason}", style="bold red")


def outcome_style(outcome: str | None) -> str:
    return OUTCOME_STYLES.get(outcome or "", ("", "default"))[1]


def outcome_label(outcome: str | None) -> str:
    if not outcome:
        return "—"
    symbol, _ = OUTCOME_STYLES.get(outcome, ("?", "default"))
    return f"{symbol} {outcome.replace('_', ' ')}"


def duration(seconds: float | None) -> str:
    """``0.4ms``, ``12ms``, ``3.2s``, ``4m 05s``, ``2h 03m``; ``—`` for none."""
    if seconds is None:
        return "—"
    if seconds < 1:
        milliseconds = seconds * 1000
        return f"{milliseconds:.1f}ms" if milliseconds < 10 else f"{milliseconds:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return span(seconds)


def span(seconds: float) -> str:
    """A whole-second span: ``7s``, ``4m 05s``, ``2h 03m``, ``3d 04h``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def countdown(next_fire: datetime | None, now: datetime, *, paused: bool) -> str:
    """``in 4m 05s``, ``due`` (at or past its time), ``paused`` or ``—`` (no more fires)."""
    if paused:
        return "paused"
    if next_fire is None:
        return "—"
    remaining = (next_fire - now).total_seconds()
    if remaining <= 0:
        return "due"
    return f"in {span(remaining)}"


def clock_time(instant: datetime | None, zone: tzinfo | None = None) -> str:
    """The wall-clock time of an instant in ``zone`` (the machine's by default), ``15:04:05``."""
    return "—" if instant is None else instant.astimezone(zone).strftime("%H:%M:%S")


def parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def offset_text(instant: datetime) -> str:
    """``UTC+01:00``."""
    offset = instant.utcoffset()
    if offset is None:
        return "UTC"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def short_time(
    instant: datetime | None, now: datetime, zone: tzinfo | None, *, with_zone: bool = False
) -> str:
    """``15:04:05`` today, ``Mon 03:00`` on another day, in ``zone``; with ``with_zone``
    the zone's abbreviation follows (``15:04:05 CEST``). ``—`` for none."""
    if instant is None:
        return "—"
    local = instant.astimezone(zone)
    shown = (
        local.strftime("%H:%M:%S")
        if local.date() == now.astimezone(zone).date()
        else local.strftime("%a %H:%M")
    )
    return f"{shown} {local.strftime('%Z')}" if with_zone else shown

"""The header: which scheduler, for how long, how busy, and how late it fires."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from . import format as fmt


def stats_text(name: str, uptime: float, stats: dict[str, Any], zone_label: str = "") -> Text:
    p99 = stats.get("lateness_p99")
    text = Text()
    text.append(" STS ", style="bold reverse")
    text.append_text(fmt.plain(f" {name} ", style="bold"))
    if zone_label:  # first: the numbers may be cut on a narrow screen, the zone is not
        text.append(f"· {zone_label} ", style="bold cyan")
    text.append(f"· up {fmt.span(uptime)} · ", style="dim")
    text.append(f"{stats.get('jobs', 0)} jobs · ")
    text.append(f"{stats.get('runs_in_flight', 0)} in flight · ")
    text.append(f"{stats.get('fires_last_minute', 0)} fires/min · ")
    text.append("p99 lateness ")
    text.append(fmt.duration(p99) if p99 is not None else "—", style="bold")
    catch_up = stats.get("catch_up_runs") or 0
    if catch_up:  # late by design (fires from before a restart): not in the p99
        text.append(f" (+{catch_up} catch-up runs apart)", style="dim")
    return text


class StatsHeader(Horizontal):
    """A line of numbers and a sparkline of the recent lateness samples."""

    def __init__(self) -> None:
        super().__init__()
        # Kept, not queried: the connection worker may report before this is composed,
        # and stats may arrive while the app closes.
        self._text = Static(Text(" STS  connecting…", style="bold"), id="stats-text")
        self._lateness: Sparkline = Sparkline([], id="lateness", summary_function=max)

    def compose(self) -> ComposeResult:
        yield self._text
        yield self._lateness

    def show(self, name: str, uptime: float, stats: dict[str, Any], zone_label: str = "") -> None:
        # No layout: the line keeps its size, and a layout pass repaints the whole screen.
        self._text.update(stats_text(name, uptime, stats, zone_label), layout=False)
        self._lateness.data = list(stats.get("lateness_recent") or [])

    def show_text(self, text: str) -> None:
        self._text.update(fmt.plain(text, style="bold"))
        self._lateness.data = []

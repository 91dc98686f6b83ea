"""The timeline: what will fire, and what did, as one row per job across a window of
time (1 hour, 24 hours or 7 days), with the current time as a line and daylight-saving
changes marked.

Like the jobs table it draws only the rows on screen, and asks the scheduler for the
fires (``plan``) and past runs (``history``) of those rows only, once per window.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any, ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

import sts

from . import format as fmt
from .times import TimeZones, zone_named

Request = Callable[..., Awaitable[dict[str, Any]]]

#: (name, length, part of it shown before now): the zoom levels, ``-`` and ``+`` move
#: between them.
SPANS: tuple[tuple[str, timedelta, float], ...] = (
    ("1 h", timedelta(hours=1), 1 / 6),
    ("24 h", timedelta(hours=24), 1 / 6),
    ("7 d", timedelta(days=7), 1 / 7),
)
DEFAULT_SPAN = 1
NAME_WIDTH = 20
#: Fires asked for per job: a job firing more often than this in a window fills its row.
MAX_FIRES = 1000
HISTORY = 200
FIRE = "●"
NOW = "│"
DST = "┆"
#: Colours of past fires by outcome; upcoming fires are cyan.
PAST_STYLES = {
    "succeeded": "green",
    "failed": "bold red",
    "timed_out": "red",
    "interrupted": "red",
    "missed": "magenta",
    "skipped": "bright_black",
    "cancelled": "yellow",
}


def offset_changes(zone: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """The instants in [start, end) at which ``zone``'s UTC offset changes (to the minute)."""
    changes = []
    step = timedelta(hours=1)
    here = start
    offset = start.astimezone(zone).utcoffset()
    while here < end:
        after = min(here + step, end)
        new = after.astimezone(zone).utcoffset()
        if new != offset:
            low, high = here, after  # the change is in (low, high]: halve to the minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            changes.append(high.replace(second=0, microsecond=0))
            offset = new
        here = after
    return changes


class Window:
    """The span of time shown, and which column an instant falls in."""

    def __init__(self, now: datetime, span: int, width: int) -> None:
        _, length, before = SPANS[span]
        self.start = now - length * before
        self.end = self.start + length
        self.width = max(1, width)
        self.now = now

    def column(self, instant: datetime) -> int | None:
        if not self.start <= instant < self.end:
            return None
        share = (instant - self.start) / (self.end - self.start)
        return min(self.width - 1, int(share * self.width))

    def at(self, column: int) -> datetime:
        return self.start + (self.end - self.start) * (column / self.width)


class TimelineRows(ScrollView, can_focus=True):
    """One line per job: its name, then its fires across the window."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "scroll_up", "Up", show=False),
        Binding("down", "scroll_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
    ]
    DEFAULT_CSS = """
    TimelineRows { background: $surface; }
    """

    def __init__(
        self,
        names: list[str],
        zones: dict[str, str],
        request: Request,
        clock: Callable[[], datetime],
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.names = names
        self.zones = zones  # job name -> the job's zone
        self.request = request
        self.clock = clock
        self.span = DEFAULT_SPAN
        #: Per job: its upcoming fires, and its past runs as (fire time, outcome).
        self.fires: dict[str, list[datetime]] = {}
        self.past: dict[str, list[tuple[datetime, str]]] = {}
        self.problems: dict[str, str] = {}
        self._asked: set[str] = set()
        self.virtual_size = Size(0, len(names))

    def window(self) -> Window:
        return Window(self.clock(), self.span, self.size.width - NAME_WIDTH - 1)

    def forget(self) -> None:
        """Ask again (another window, or f5)."""
        self.fires.clear()
        self.past.clear()
        self.problems.clear()
        self._asked.clear()
        self.refresh()

    def record(self, record: dict[str, Any]) -> None:
        """A run that finished while the timeline is open: colour its fire."""
        job = record["job"]
        fire = fmt.parse(record["fire_time"])
        if job in self.past and fire is not None and not record["retry_at"]:
            self.past[job].append((fire, record["outcome"]))
            self.refresh()

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_y) + y
        width = self.size.width
        if index >= len(self.names):
            return Strip.blank(width, self.rich_style)
        name = self.names[index]
        if name not in self._asked:
            self._asked.add(name)
            self.load(name, self.window())
        line = fmt.plain(name)
        line.truncate(NAME_WIDTH, overflow="ellipsis", pad=True)
        line.append(" ")
        line.append_text(self.bar(name, self.window()))
        base = self.rich_style
        segments = [
            Segment(segment.text, base + segment.style if segment.style else base)
            for segment in line.render(self.app.console)
        ]
        return Strip(segments).crop_extend(0, width, base)

    def bar(self, name: str, window: Window) -> Text:
        """The job's row across ``window``: fires, past outcomes, DST changes, now."""
        cells: list[tuple[str, str]] = [("·", "bright_black")] * window.width
        zone = zone_named(self.zones.get(name))
        if zone is not None:
            for change in offset_changes(zone, window.start, window.end):
                column = window.column(change)
                if column is not None:
                    cells[column] = (DST, "bold yellow")
        now = window.column(window.now)
        if now is not None:
            cells[now] = (NOW, "bold")
        if name in self.problems:  # no fires can be told: say why instead
            return fmt.plain(self.problems[name][: window.width], style="red")
        for fire in self.fires.get(name, []):
            column = window.column(fire)
            if column is not None:
                cells[column] = (FIRE, "bold cyan")
        for fire, outcome in self.past.get(name, []):
            column = window.column(fire)
            if column is not None:
                cells[column] = (FIRE, PAST_STYLES.get(outcome, "default"))
        return Text.assemble(*cells)

    @work(group="timeline")
    async def load(self, name: str, window: Window) -> None:
        try:
            # From now: what fired before is told by the history, with its outcome.
            plan = await self.request(
                "plan", job=name, count=MAX_FIRES, since=window.now.isoformat()
            )
            history = await self.request("history", job=name, limit=HISTORY)
        except sts.ControlError as error:  # a broken trigger cannot tell its fires
            self.problems[name] = error.message
            self.refresh()
            return
        except (OSError, ConnectionError):
            self._asked.discard(name)  # the scheduler went away: ask when it is back
            return
        fires = [fmt.parse(fire["utc"]) for fire in plan["fires"]]
        self.fires[name] = [fire for fire in fires if fire is not None and fire < window.end]
        self.past[name] = [
            (fire, run["outcome"])
            for run in history["runs"]
            if not run["manual"] and (fire := fmt.parse(run["fire_time"])) is not None
        ]
        self.refresh()


def axis(window: Window, zone: tzinfo, label: str) -> Text:
    """The line above the rows: times along the window in ``zone``, now, DST changes."""
    width = window.width
    marks = [" "] * width
    styles = ["dim"] * width
    # Now and the daylight-saving changes first: the time labels go where they leave room.
    now = window.column(window.now)
    if now is not None:
        marks[now] = NOW
        styles[now] = "bold"
    for change in offset_changes(zone, window.start, window.end):
        column = window.column(change)
        if column is not None:
            after = (change + timedelta(minutes=1)).astimezone(zone).strftime("%Z")
            text = f"{DST}DST→{after}"[: width - column]
            marks[column : column + len(text)] = list(text)
            styles[column : column + len(text)] = ["bold yellow"] * len(text)
    length = window.end - window.start
    step = _tick(length, width)
    first = _round_up(window.start.astimezone(zone), step)
    tick = first
    while tick < window.end:
        column = window.column(tick)
        if step >= timedelta(days=1):
            text = tick.strftime("%a %d")
        elif tick.hour == 0 and tick.minute == 0:  # a new day: say which
            text = tick.strftime("%a %H:%M")
        else:
            text = tick.strftime("%H:%M")
        if column is not None and _free(marks, column, len(text)):
            marks[column : column + len(text)] = list(text)
        tick = (tick + step).astimezone(zone)
    line = Text(label[:NAME_WIDTH].ljust(NAME_WIDTH) + " ", style="bold")
    for mark, style in zip(marks, styles, strict=True):
        line.append(mark, style=style)
    return line


def _free(marks: list[str], column: int, length: int) -> bool:
    """Whether a label of ``length`` fits at ``column`` with a space after it."""
    return column + length <= len(marks) and all(
        mark == " " for mark in marks[column : column + length + 1]
    )


def _tick(length: timedelta, width: int) -> timedelta:
    """A round step between axis labels that leaves room for each label."""
    for step in (
        timedelta(minutes=5),
        timedelta(minutes=10),
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=3),
        timedelta(hours=6),
        timedelta(hours=12),
        timedelta(days=1),
    ):
        if width * (step / length) >= 12:
            return step
    return timedelta(days=1)


def _round_up(instant: datetime, step: timedelta) -> datetime:
    """The first instant at or after ``instant`` on a multiple of ``step`` of local time."""
    midnight = instant.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = math.ceil((instant - midnight) / step)
    return midnight + step * steps


class TimelineScreen(Screen[None]):
    """``t`` on the jobs screen: the jobs shown there, across the next hours."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("minus", "zoom(1)", "Zoom out"),
        Binding("plus,equals_sign", "zoom(-1)", "Zoom in"),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(
        self,
        names: list[str],
        zones: dict[str, str],
        request: Request,
        times: TimeZones,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__()
        self.times = times
        self.clock = clock
        self.rows = TimelineRows(names, zones, request, clock, id="timeline-rows")

    def compose(self) -> ComposeResult:
        yield Static("", id="timeline-title")
        yield Static("", id="timeline-axis")
        yield self.rows
        yield Static(self._legend(), id="timeline-legend")
        yield Footer()

    def on_mount(self) -> None:
        self.rows.focus()
        self.set_interval(30, self.redraw)
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def _legend(self) -> Text:
        legend = Text(" ")
        for label, style in (
            ("● next", "bold cyan"),
            ("● succeeded", "green"),
            ("● failed", "bold red"),
            ("● missed", "magenta"),
            (f"{NOW} now", "bold"),
            (f"{DST} daylight-saving change", "bold yellow"),
        ):
            legend.append(label, style=style)
            legend.append("   ")
        legend.append("- + zoom, esc back", style="dim")
        return legend

    def redraw(self) -> None:
        """The title and the axis for the window and the zone now; the rows follow."""
        window = self.rows.window()
        zone = self.times.zone()
        name, _, _ = SPANS[self.rows.span]
        label = str(getattr(zone, "key", zone))
        # In "each job's zone" the rows differ: the axis is in the scheduler's.
        where = f"axis: {label}" if self.times.mode == "job" else self.times.label()
        title = (
            f" Timeline · {name} from {fmt.short_time(window.start, window.now, zone)}"
            f" · {len(self.rows.names)} jobs · {where}"
        )
        self.query_one("#timeline-title", Static).update(fmt.plain(title, style="bold"))
        self.query_one("#timeline-axis", Static).update(axis(window, zone, label))
        self.rows.refresh()

    def action_zoom(self, step: int) -> None:
        span = max(0, min(len(SPANS) - 1, self.rows.span + step))
        if span != self.rows.span:
            self.rows.span = span
            self.rows.forget()
            self.redraw()

    def action_reload(self) -> None:
        self.rows.forget()
        self.redraw()

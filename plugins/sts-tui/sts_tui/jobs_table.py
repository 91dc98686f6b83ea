"""The jobs table: one row per job, drawn from a model of rows, only the lines on screen.

A ``DataTable`` builds and measures every cell of every row it holds: 10,000 jobs took
seconds to load and each event cost a cell update whether the row was on screen or not.
This table is a ``ScrollView`` on Textual's line API instead: it keeps the scheduler's
rows (``jobs``) and the order in which it shows them (names), and ``render_line`` draws
the few rows the screen shows when Textual asks for them. Loading 10,000 jobs is building
a list; an event is a dictionary write and, when its row is on screen, a repaint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

import sts

from . import format as fmt
from .times import TimeZones

#: (key, label, width): fixed widths; the name, schedule and state columns are sized to
#: their longest text (up to a limit) and grow when a longer one arrives.
COLUMNS = (
    ("name", "Job", None),
    ("schedule", "Schedule", None),
    ("next", "Next fire", 11),
    ("at", "At", 14),
    ("outcome", "Last outcome", 13),
    ("succeeded", "OK", 5),
    ("failed", "Failed", 6),
    ("mean", "Mean", 6),
    ("last", "Last", 6),
    ("state", "State", None),
)
COLUMN_KEYS = tuple(key for key, _, _ in COLUMNS)
MAX_TEXT_WIDTH = 40
#: The state column (the last) grows to show why a job was set aside, up to this width.
MAX_STATE_WIDTH = 60
MIN_WIDTHS = {"name": 8, "schedule": 10, "state": 12}
#: Columns the ``s`` key cycles through, with how each sorts.
SORTS: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("name", lambda row: row["name"]),
    ("next", lambda row: (row["paused"], row["next_fire"] or "~")),
    ("failed", lambda row: -row["failed"]),
    ("mean", lambda row: -(row["mean_duration"] or 0.0)),
)


def _state(row: dict[str, Any]) -> Text:
    if row["paused"]:
        # The reason a job was set aside is cut to the column here; its detail shows it all.
        marker = fmt.paused_marker(row)
        marker.truncate(MAX_STATE_WIDTH, overflow="ellipsis")
        return marker
    if row["running"]:
        return Text(f"▶ running x{row['running']}" if row["running"] > 1 else "▶ running", "cyan")
    return Text("")


def _shown_length(text: str) -> int:
    """The length of ``text`` as shown (escaped where it must be). Printable text, nearly
    all of it, is shown as it is: no pattern search for each of 10,000 rows."""
    return len(text) if text.isprintable() else len(sts.printable(text))


def _older(row: dict[str, Any], than: dict[str, Any]) -> bool:
    """Whether ``row`` was built before ``than`` (rows of schedulers that do not number
    them are taken as they come)."""
    revision, known = row.get("revision"), than.get("revision")
    return revision is not None and known is not None and revision < known


def cells(row: dict[str, Any], now: datetime, times: TimeZones) -> dict[str, Text]:
    """A job's row as the table shows it, cell by column key."""
    outcome = row["last_outcome"]
    next_fire = fmt.parse(row["next_fire"])
    return {
        "name": fmt.plain(row["name"]),
        "schedule": fmt.plain(row["schedule"]),
        "next": Text(fmt.countdown(next_fire, now, paused=row["paused"])),
        "at": Text("—" if row["paused"] else times.short(next_fire, now, row.get("timezone"))),
        "outcome": Text(fmt.outcome_label(outcome), style=fmt.outcome_style(outcome)),
        "succeeded": Text(str(row["succeeded"])),
        "failed": Text(str(row["failed"]), style="red" if row["failed"] else ""),
        "mean": Text(fmt.duration(row["mean_duration"])),
        "last": Text(fmt.duration(row["last_duration"])),
        "state": _state(row),
    }


class JobsTable(ScrollView, can_focus=True):
    """The scheduler's jobs, by name; the cursor selects one, ``enter`` opens it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Detail", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "jobs-table--header",
        "jobs-table--cursor",
        "jobs-table--even-row",
    }
    DEFAULT_CSS = """
    JobsTable {
        background: $surface;
        color: $foreground;
        & > .jobs-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .jobs-table--even-row { background: $surface-lighten-1 50%; }
        & > .jobs-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .jobs-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        &:dark > .jobs-table--even-row { background: $surface-darken-1 40%; }
    }
    """

    class JobSelected(Message):
        """``enter`` (or a click on the selected row) on a job."""

        def __init__(self, table: JobsTable, job: str) -> None:
            super().__init__()
            self.table = table
            self.job = job

    def __init__(self, clock: Callable[[], datetime], **options: Any) -> None:
        super().__init__(**options)
        self.clock = clock
        self.times = TimeZones()
        #: Every job the scheduler reported, shown or filtered out, by name.
        self.jobs: dict[str, dict[str, Any]] = {}
        #: The names shown, in the order shown (filtered and sorted).
        self.order: list[str] = []
        self._index: dict[str, int] = {}
        self.filter_text = ""
        self.sort_index = 0
        #: The scheduler's whole job list is in (an empty table then means no jobs).
        self.listed = False
        self.cursor_row = 0
        #: Rows changed by events since the last load: lets tests see incrementality.
        self.updates = 0
        self._widths: dict[str, int] = {}
        #: Rows the list will hold once every page is in: the table takes that height with
        #: the first page, so that each later page is no layout pass of the whole screen.
        self._expected = 0
        # Drawn lines by what they show: a row drawn at 10 frames a second is built once
        # per change or second of countdown. Cleared when the styles or the widths change.
        self._lines: dict[tuple[Any, ...], Strip] = {}
        self._styles: dict[str, Style] = {}
        self._size_columns()

    # -- the model --------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.order)

    def matches(self, name: str) -> bool:
        return not self.filter_text or self.filter_text.lower() in name.lower()

    def load(self, rows: Iterable[dict[str, Any]], total: int = 0) -> None:
        """Replace every row (on connect).

        :param total: the rows of the whole list when ``rows`` is its first page; the
            lines of the pages still to come are blank until :meth:`resort`.
        """
        self.jobs = {row["name"]: row for row in rows}
        self._expected = total
        self._size_columns()
        self._reorder()
        self.updates = 0

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        """Add or update a page of rows; new ones go to the end until :meth:`resort` (off
        screen, as a rule: no repaint)."""
        names = []
        for row in rows:
            self._put(row)
            names.append(row["name"])
        self._changed(names)

    def resort(self) -> None:
        """Order the rows again (the sort and the filter), keeping the cursor on its job;
        the table's height is its rows' again."""
        self._expected = 0
        self._reorder()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._reorder()

    def cycle_sort(self) -> str:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self._reorder()
        return SORTS[self.sort_index][0]

    def upsert(self, row: dict[str, Any]) -> None:
        """Add a job, or take its new row."""
        self._put(row)
        self.updates += 1
        self._changed()

    def upsert_many(self, rows: Iterable[dict[str, Any]]) -> None:
        """:meth:`upsert` for a batch of events, with one repaint if one is on screen."""
        names = []
        for row in rows:
            self._put(row)
            names.append(row["name"])
            self.updates += 1
        self._changed(names)

    def discard(self, name: str) -> None:
        self.discard_many([name])

    def discard_many(self, names: Iterable[str]) -> None:
        gone = {name for name in names if self.jobs.pop(name, None) is not None}
        if gone & self._index.keys():
            selected = self.selected_job
            self.order = [name for name in self.order if name not in gone]
            self._reindex(selected)
        self._changed()

    def _put(self, row: dict[str, Any]) -> None:
        name = row["name"]
        known = self.jobs.get(name)
        if known is not None and _older(row, known):
            return  # a page answered before an event that already brought a newer row
        self.jobs[name] = row
        if known is None and self.matches(name):
            self._index[name] = len(self.order)
            self.order.append(name)
        # Only a new job or a new set-aside reason can need a wider column (the running
        # marker fits the state column's least width).
        if known is None or row.get("paused_reason") != known.get("paused_reason"):
            self._widen(row)

    def _reorder(self) -> None:
        selected = self.selected_job
        _, sort_key = SORTS[self.sort_index]
        shown = (row for name, row in self.jobs.items() if self.matches(name))
        self.order = [row["name"] for row in sorted(shown, key=sort_key)]
        self._reindex(selected)
        self._changed()

    def _reindex(self, selected: str | None) -> None:
        self._index = {name: index for index, name in enumerate(self.order)}
        if selected in self._index:
            self.cursor_row = self._index[selected]
        self.cursor_row = max(0, min(self.cursor_row, len(self.order) - 1))
        self._scroll_to_cursor()

    def _size_columns(self) -> None:
        rows = self.jobs.values()
        measured = {
            "name": max((len(fmt.plain(name)) for name in self.jobs), default=0),
            "schedule": max((len(fmt.plain(row["schedule"])) for row in rows), default=0),
            "state": max((len(_state(row)) for row in rows), default=0),
        }
        self._widths = {}
        for key, _, width in COLUMNS:
            most = MAX_STATE_WIDTH if key == "state" else MAX_TEXT_WIDTH
            self._widths[key] = width or min(most, max(MIN_WIDTHS[key], measured[key]))

    def _widen(self, row: dict[str, Any]) -> None:
        """A longer name, schedule or set-aside reason widens its column (never narrows)."""
        widths = self._widths
        for key, length, most in (
            ("name", _shown_length(row["name"]), MAX_TEXT_WIDTH),
            ("schedule", _shown_length(row["schedule"]), MAX_TEXT_WIDTH),
            ("state", len(_state(row)) if row["paused"] else 0, MAX_STATE_WIDTH),
        ):
            if length > widths[key]:
                widths[key] = min(most, length)

    def _changed(self, names: Iterable[str] | None = None) -> None:
        """Repaint after a change (of ``names`` only, when given: off screen, no repaint)."""
        width = sum(self._widths.values()) + len(COLUMNS)  # a space before each column
        size = Size(width, max(len(self.order), self._expected) + 1)  # + the header line
        if size != self.virtual_size:
            self.virtual_size = size  # a layout pass: only when the size changed
            self._lines.clear()
        if names is None or self._any_on_screen(names):
            self.refresh()

    def _any_on_screen(self, names: Iterable[str]) -> bool:
        top = int(self.scroll_y)
        bottom = top + self._page_rows()
        index = self._index
        return any(top <= index.get(name, -1) < bottom for name in names)

    # -- reading it back (tests, actions) ---------------------------------------------------

    @property
    def selected_job(self) -> str | None:
        if 0 <= self.cursor_row < len(self.order):
            return self.order[self.cursor_row]
        return None

    def get_row_index(self, name: str) -> int:
        return self._index[name]

    def get_cell(self, name: str, column: str) -> str:
        """The text of one cell, as it is shown now."""
        return cells(self.jobs[name], self.clock(), self.times)[column].plain

    def move_cursor(self, *, row: int) -> None:
        self.cursor_row = max(0, min(row, len(self.order) - 1))
        self._scroll_to_cursor()
        self.refresh()

    def tick(self) -> None:
        """Countdowns move: repaint (only the rows on screen are drawn)."""
        self.refresh()

    # -- drawing ----------------------------------------------------------------------------

    def _line(self, texts: Iterable[Text], style: Style) -> Text:
        line = Text(style=style, end="", no_wrap=True)
        for key, text in zip(COLUMN_KEYS, texts, strict=True):
            cell = text.copy()
            cell.truncate(self._widths[key], overflow="ellipsis", pad=True)
            line.append(" ")
            line.append_text(cell)
        return line

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            base = self.rich_style
            style = base if name == "row" else base + self.get_component_rich_style(name)
            self._styles[name] = style
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._lines.clear()

    def on_focus(self, event: events.Focus) -> None:
        self.notify_style_update()  # the cursor's colour depends on the focus

    def on_blur(self, event: events.Blur) -> None:
        self.notify_style_update()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if y == 0:
            name: str | None = None
            kind = "jobs-table--header"
            key: tuple[Any, ...] = (kind, scroll_x, width)
        else:
            index = scroll_y + y - 1
            if index >= len(self.order):
                if index == 0 and self.listed:  # nothing to show: say why, not a blank table
                    return self._empty(width)
                return Strip.blank(width, self._style("row"))
            name = self.order[index]
            if index == self.cursor_row:
                kind = "jobs-table--cursor"
            elif index % 2:
                kind = "jobs-table--even-row"
            else:
                kind = "row"
            # What the line shows: the row (a new dict per change), the second of its
            # countdown, the zone, its look and where it is cut.
            row = self.jobs[name]
            second = int(self.clock().timestamp())
            key = (id(row), second, self.times.mode, kind, scroll_x, width)
        strip = self._lines.get(key)
        if strip is None:
            strip = self._draw(name, self._style(kind), scroll_x, width)
            if len(self._lines) > 4 * max(1, self.size.height):
                self._lines.clear()
            self._lines[key] = strip
        return strip

    def _empty(self, width: int) -> Strip:
        if self.filter_text:
            text = fmt.plain(f" No job's name contains {self.filter_text!r} (esc clears).")
        elif self.jobs:
            text = Text(" No jobs shown.")
        else:
            text = Text(" This scheduler has no jobs yet: jobs it adds appear here.")
        text.stylize("italic dim")
        style = self._style("row")
        segments = [
            Segment(segment.text, style + segment.style if segment.style else style)
            for segment in text.render(self.app.console)
        ]
        return Strip(segments).crop_extend(0, width, style)

    def _draw(self, name: str | None, style: Style, scroll_x: int, width: int) -> Strip:
        if name is None:
            text = self._line((Text(label) for _, label, _ in COLUMNS), style)
        else:
            row = cells(self.jobs[name], self.clock(), self.times)
            text = self._line((row[key] for key in COLUMN_KEYS), style)
        segments = [
            Segment(segment.text, style + segment.style if segment.style else style)
            for segment in text.render(self.app.console)
        ]
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, style)

    # -- moving -----------------------------------------------------------------------------

    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        if not self.is_mounted:
            return
        rows = self._page_rows()
        top = int(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        self.move_cursor(row=self.cursor_row + direction * self._page_rows())

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=len(self.order) - 1)

    def action_select(self) -> None:
        name = self.selected_job
        if name is not None:
            self.post_message(self.JobSelected(self, name))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = int(self.scroll_y) + offset.y - 1
        if row >= len(self.order):
            return
        if row == self.cursor_row:
            self.action_select()
        else:
            self.move_cursor(row=row)

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()

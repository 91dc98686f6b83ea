"""The jobs table: one row per job, updated cell by cell as events arrive.

A full redraw per event would not keep up with thousands of jobs, so the table keeps the
last row it showed for each job and only touches cells whose text changed; countdowns are
refreshed for the rows on screen only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from . import format as fmt

#: (key, label, width): fixed widths, so that a cell updated later is never clipped; the
#: name and schedule columns are sized to their longest text on each load.
COLUMNS = (
    ("name", "Job", None),
    ("schedule", "Schedule", None),
    ("next", "Next fire", 11),
    ("outcome", "Last outcome", 13),
    ("succeeded", "OK", 6),
    ("failed", "Failed", 6),
    ("mean", "Mean", 7),
    ("last", "Last", 7),
    ("state", "State", None),
)
MAX_TEXT_WIDTH = 40
#: The state column (the last) grows to show why a job was set aside, up to this width.
MAX_STATE_WIDTH = 60
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


def _cells(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    outcome = row["last_outcome"]
    return {
        "name": fmt.plain(row["name"]),
        "schedule": fmt.plain(row["schedule"]),
        "next": fmt.countdown(fmt.parse(row["next_fire"]), now, paused=row["paused"]),
        "outcome": Text(fmt.outcome_label(outcome), style=fmt.outcome_style(outcome)),
        "succeeded": str(row["succeeded"]),
        "failed": Text(str(row["failed"]), style="red" if row["failed"] else ""),
        "mean": fmt.duration(row["mean_duration"]),
        "last": fmt.duration(row["last_duration"]),
        "state": _state(row),
    }


class JobsTable(DataTable[Any]):
    """The scheduler's jobs; row keys are job names."""

    def __init__(self, clock: Callable[[], datetime], **options: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **options)
        self.clock = clock
        self.zone: tzinfo | None = None
        #: Every job the scheduler reported, shown or filtered out, by name.
        self.jobs: dict[str, dict[str, Any]] = {}
        self._shown: dict[str, dict[str, Any]] = {}  # name -> the cells on screen
        self.filter_text = ""
        self.sort_index = 0
        self.updates = 0  # cells written since the last load: lets tests see incrementality
        # The connection worker starts with the app and may load or update jobs before this
        # table is mounted: until then only ``jobs`` is kept, and mounting builds the rows.
        # (Adding columns both on mount and in a load that came first duplicated them, and
        # rows added before any column raised "More values provided than there are columns".)
        self._ready = False
        self._state_width = 0  # the state column's width: it grows for a job's set-aside reason

    def on_mount(self) -> None:
        self._ready = True
        self._rebuild()

    def _add_columns(self) -> None:
        rows = self.jobs.values()
        widths = {
            "name": max([len(fmt.plain(name)) for name in self.jobs] + [8]),
            "schedule": max([len(fmt.plain(row["schedule"])) for row in rows] + [10]),
            "state": max([len(_state(row)) for row in rows] + [12]),
        }
        self._state_width = widths["state"]
        for key, label, width in COLUMNS:
            most = MAX_STATE_WIDTH if key == "state" else MAX_TEXT_WIDTH
            self.add_column(label, key=key, width=min(most, width or widths[key]))

    # -- the model --------------------------------------------------------------------------

    def matches(self, name: str) -> bool:
        return not self.filter_text or self.filter_text.lower() in name.lower()

    def load(self, rows: Iterable[dict[str, Any]]) -> None:
        """Replace every row (on connect and when the filter changes)."""
        self.jobs = {row["name"]: row for row in rows}
        self._rebuild()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._rebuild()

    def _rebuild(self) -> None:
        if not self._ready:
            return
        cursor_name = self.selected_job
        self.clear(columns=True)
        self._add_columns()
        self._shown = {}
        now = self.clock()
        _, sort_key = SORTS[self.sort_index]
        shown = sorted((row for name, row in self.jobs.items() if self.matches(name)), key=sort_key)
        keys = [key for key, _, _ in COLUMNS]
        for row in shown:
            cells = _cells(row, now)
            self._shown[row["name"]] = cells
        for name, cells in self._shown.items():
            self.add_row(*(cells[key] for key in keys), key=name)
        self.updates = 0
        if cursor_name in self._shown:
            self.move_cursor(row=self.get_row_index(cursor_name))

    def upsert(self, row: dict[str, Any]) -> None:
        """Add a job, or update the cells of its row that changed."""
        name = row["name"]
        self.jobs[name] = row
        if not self._ready or not self.matches(name):
            return
        cells = _cells(row, self.clock())
        shown = self._shown.get(name)
        if shown is None:
            self._shown[name] = cells
            self.add_row(*(cells[key] for key, _, _ in COLUMNS), key=name)
        else:
            for key, value in cells.items():
                if shown[key] != value:
                    shown[key] = value
                    self.update_cell(name, key, value)
                    self.updates += 1
        if len(cells["state"]) > self._state_width:  # rare: a job set aside, with its reason
            self._rebuild()

    def discard(self, name: str) -> None:
        self.jobs.pop(name, None)
        if self._shown.pop(name, None) is not None:
            self.remove_row(name)

    def cycle_sort(self) -> str:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self._rebuild()
        return SORTS[self.sort_index][0]

    # -- the view ---------------------------------------------------------------------------

    @property
    def selected_job(self) -> str | None:
        row = self.cursor_row
        if not 0 <= row < self.row_count:
            return None
        key = self.ordered_rows[row].key.value
        return None if key is None else str(key)

    def tick(self) -> None:
        """Refresh the countdowns of the rows on screen."""
        if not self._ready or not self.row_count:
            return
        now = self.clock()
        first = max(0, int(self.scroll_y))
        last = min(self.row_count, first + max(1, self.size.height))
        for index in range(first, last):
            name = self.ordered_rows[index].key.value
            if name is None:
                continue
            row = self.jobs.get(name)
            shown = self._shown.get(name)
            if row is None or shown is None:
                continue
            text = fmt.countdown(fmt.parse(row["next_fire"]), now, paused=row["paused"])
            if shown["next"] != text:
                shown["next"] = text
                self.update_cell(name, "next", text)

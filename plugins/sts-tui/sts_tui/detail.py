"""A job's detail: its recent runs (with errors, tracebacks and output tails) and its
next fire times in its own zone and UTC, with daylight-saving changes marked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

import sts

from . import format as fmt
from .times import TimeZones

Request = Callable[..., Awaitable[dict[str, Any]]]
PLAN_COUNT = 10
HISTORY_LIMIT = 50


def plan_note(fire: dict[str, Any], previous_local: str | None) -> Text:
    """``⚠ DST starts +0100→+0200`` where the offset changed before this fire."""
    if not fire["offset_changed"]:
        return Text("")
    local = fmt.parse(fire["local"])
    assert local is not None
    before = fmt.parse(previous_local)
    change = "DST starts" if fire["dst"] else "DST ends"
    after = local.strftime("%z")
    offsets = f"{before.strftime('%z')}→{after}" if before is not None else f"now {after}"
    return Text(f"⚠ {change} {offsets}", style="bold yellow")


def run_details(run: dict[str, Any]) -> str:
    """What a run left for the history: the traceback, else its error, and its output."""
    parts = []
    if run["traceback"]:
        parts.append(run["traceback"].rstrip())
    elif run["error"]:
        parts.append(run["error"])
    for name, text in sorted(run["output"].items()):
        parts.append(f"── {name} ──\n{text.rstrip()}")
    return "\n\n".join(parts) or "No error and no output kept for this run."


class JobDetailScreen(Screen[None]):
    """Pushed by ``enter`` on a job; ``escape`` goes back."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f5", "reload", "Reload"),
    ]

    def __init__(self, job: str, request: Request, times: TimeZones | None = None) -> None:
        super().__init__()
        self.job = job
        self.request = request
        self.times = times or TimeZones()
        self.row: dict[str, Any] = {}
        self.runs: list[dict[str, Any]] = []
        self.plan: dict[str, Any] = {}
        self._plan_or_why: dict[str, Any] | str = {}
        #: The job was removed while this screen was open: it keeps what it showed.
        self.removed = False
        # The app asks for a reload when this job runs, possibly right after pushing this
        # screen and before it is composed (its widgets are not there yet: NoMatches).
        # On mount it loads anyway.
        self._ready = False

    def compose(self) -> ComposeResult:
        # The tables get their columns here, not in on_mount: a run that finishes while the
        # screen is being pushed reloads it, and its rows must find the columns there.
        runs: DataTable[Any] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        runs.add_columns("Started", "Outcome", "Try", "Duration", "Error")
        plan: DataTable[Any] = DataTable(id="plan", cursor_type="none", zebra_stripes=True)
        plan.add_column("When", width=26)
        plan.add_column("UTC", width=14)
        plan.add_column("", width=24)
        yield Static(fmt.plain(f" Job {self.job}", style="bold"), id="detail-title")
        yield Static("", id="detail-state")  # shown while the job is paused, with why
        with Horizontal(id="detail-body"):
            with Vertical(id="runs-pane"):
                yield Label("Recent runs", classes="pane-title")
                yield runs
                with VerticalScroll(id="run-details"):
                    yield Static("", id="run-text")
            with Vertical(id="plan-pane"):
                yield Label("Next fire times", classes="pane-title", id="plan-title")
                yield plan
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-state").display = False
        self._ready = True
        self.action_reload()

    @work(exclusive=True, group="detail")
    async def action_reload(self) -> None:
        if not self._ready or self.removed:
            return
        try:
            (row,) = (await self.request("jobs", job=self.job))["jobs"]
            history = await self.request("history", job=self.job, limit=HISTORY_LIMIT)
        except Exception as error:  # the scheduler went away or the job was removed
            self.query_one("#run-text", Static).update(fmt.plain(f"Cannot load this job: {error}"))
            return
        try:
            plan: dict[str, Any] | str = await self.request("plan", job=self.job, count=PLAN_COUNT)
        except sts.ControlError as error:  # a broken trigger cannot name its next fires
            plan = error.message
        self.show(row, history["runs"], plan)

    def show_state(self, row: dict[str, Any]) -> None:
        """The paused marker under the title, with the reason when the scheduler set the job
        aside itself (``p`` resumes it)."""
        state = self.query_one("#detail-state", Static)
        state.display = bool(row["paused"])
        if row["paused"]:
            state.update(Text.assemble(" ", fmt.paused_marker(row), ("  (p resumes it)", "dim")))

    def show(
        self, row: dict[str, Any], runs: list[dict[str, Any]], plan: dict[str, Any] | str
    ) -> None:
        """The job's row, its recent runs and its next fires (or why they cannot be told)."""
        if not self.query("#detail-title"):  # asked before the screen composed: after it
            self.call_after_refresh(self.show, row, runs, plan)
            return
        self.row, self.runs, self._plan_or_why = row, runs, plan
        title = (
            f" Job {self.job} · {row['schedule']} · its zone {row['timezone']}"
            f" · {self.times.label()}"
        )
        self.query_one("#detail-title", Static).update(fmt.plain(title, style="bold"))
        if not self.removed:
            self.show_state(row)
        table = self.query_one("#runs", DataTable)
        cursor = table.cursor_row
        table.clear()
        for run in runs:
            started = fmt.parse(run["started_at"] or run["fire_time"])
            outcome = run["outcome"]
            table.add_row(
                self.times.clock(started, row["timezone"]) + (" (manual)" if run["manual"] else ""),
                Text(fmt.outcome_label(outcome), style=fmt.outcome_style(outcome)),
                str(run["attempt"]),
                fmt.duration(run["duration"]),
                fmt.plain((run["error"] or "")[:80]),
            )
        if not runs:
            self.query_one("#run-text", Static).update("No runs yet.")
        else:
            table.move_cursor(row=min(cursor, len(runs) - 1))
            self._show_run(min(table.cursor_row, len(runs) - 1))
        if isinstance(plan, str):
            self.plan = {}
            self.query_one("#plan", DataTable).clear()
            self.query_one("#plan-title", Label).update(fmt.plain(f"No fire times: {plan}"))
        else:
            self.plan = plan
            self._show_plan(plan)

    def show_removed(self) -> None:
        """The job is gone from the scheduler: say so above what was last loaded."""
        self.removed = True
        if not self._ready:
            return
        state = self.query_one("#detail-state", Static)
        state.display = True
        state.update(
            Text.assemble(
                (" ✗ removed from the scheduler", "bold red"),
                ("  (its history went with it; esc goes back)", "dim"),
            )
        )

    def redraw(self) -> None:
        """Show what was loaded again (the zone changed)."""
        if self._ready and self.row:
            self.show(self.row, self.runs, self._plan_or_why)

    def _show_plan(self, plan: dict[str, Any]) -> None:
        zone = self.times.zone(plan["timezone"])
        named = str(getattr(zone, "key", zone))
        zones = "UTC" if named == "UTC" else f"{named} and UTC"
        self.query_one("#plan-title", Label).update(
            f"Next {len(plan['fires'])} fire times ({zones})"
        )
        table = self.query_one("#plan", DataTable)
        table.clear()
        previous: str | None = None
        for fire in plan["fires"]:
            utc = fmt.parse(fire["utc"])
            assert utc is not None
            table.add_row(
                utc.astimezone(zone).strftime("%a %m-%d %H:%M:%S %Z"),
                utc.strftime("%m-%d %H:%M:%S"),
                plan_note(fire, previous),
            )
            previous = fire["local"]
        if not plan["fires"]:
            table.add_row("no more fires", "", "")

    def _show_run(self, index: int) -> None:
        if 0 <= index < len(self.runs):
            self.query_one("#run-text", Static).update(
                fmt.plain_lines(run_details(self.runs[index]))
            )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "runs":
            self._show_run(event.cursor_row)

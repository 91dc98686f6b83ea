"""The terminal UI: follows one scheduler through its control socket.

Everything it shows comes from the control protocol and every action goes through it
(``trigger``, ``pause``, ``resume``, ``remove``), the same commands ``sts`` uses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

import sts

from . import format as fmt
from .collector import collections_paused, thaw
from .detail import JobDetailScreen
from .dialogs import ConfirmRemove, HelpScreen
from .event_log import EventLog
from .header import StatsHeader
from .jobs_table import JobsTable
from .timeline import TimelineScreen
from .times import TimeZones

#: Events are applied in batches at most this often, so a burst costs one screen update;
#: at most every BUSY_INTERVAL once a batch holds BUSY_BATCH events or more.
BATCH_INTERVAL = 0.25
BUSY_BATCH = 200
BUSY_INTERVAL = 0.5
#: How often a scheduler that can coalesce sends its batch of events (seconds).
COALESCE = 0.25
#: The most log lines one batch writes (a screenful); the rest are summed up in one line.
LOG_LINES_PER_BATCH = 20
#: Rows of a batch put in the table in one go before the loop may answer a key.
ROWS_PER_TURN = 1000
#: Job rows asked for first (a screenful and more: the table shows at once), then per page.
FIRST_PAGE = 200
PAGE = 2000
#: Seconds of no typing after which the filter applies.
FILTER_DELAY = 0.2


def _job_of(event: str, data: dict[str, Any]) -> str | None:
    """The name of the job an event is about, if any."""
    if event == "run_started":
        return str(data["run"]["job"])
    if event == "run_finished":
        return str(data["record"]["job"])
    if event == "job_changed":
        return str((data.get("job") or {}).get("name", data.get("name", "")))
    return None


def _now() -> datetime:
    return datetime.now(UTC)


class FilterInput(Input):
    BINDINGS = [Binding("escape", "cancel", "Clear filter")]

    def action_cancel(self) -> None:
        self.value = ""
        app = self.app
        assert isinstance(app, SchedulerApp)
        app.post_message(Input.Submitted(self, ""))


class JobsScreen(Screen[None]):
    """The main screen. Its table has the focus from the start: the focus given to it
    after the start (another widget first had it) was one more footer, ten keys mounted
    and styled again."""

    AUTO_FOCUS = "#jobs"


class SchedulerApp(App[int]):
    """Shows the scheduler listening on ``socket_path`` and reconnects when it comes back.

    :param clock: the UI's idea of now (countdowns, uptime); tests pin it.
    :param zone: the zone to use as the scheduler's (tests pin it); by default the one the
        scheduler names in its ``hello``.
    :param retry_interval: seconds between connection attempts.
    """

    CSS_PATH = "app.tcss"
    TITLE = "STS"
    BINDINGS = [
        Binding("r", "run_now", "Run now"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("x,delete", "remove", "Remove"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("z", "zone", "Zone"),
        Binding("t", "timeline", "Timeline"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        socket_path: str | Path,
        *,
        clock: Callable[[], datetime] = _now,
        zone: tzinfo | None = None,
        retry_interval: float = 0.5,
    ) -> None:
        super().__init__()
        self.socket_path = Path(socket_path)
        self.clock = clock
        self.zone = zone
        #: Which zone every time on screen is written in; ``z`` cycles it.
        self.times = TimeZones()
        self.times.set_scheduler_zone(None, zone)
        self.retry_interval = retry_interval
        self.client: sts.ControlClient | None = None
        self.hello: dict[str, Any] = {}
        self.stats: dict[str, Any] = {}
        #: ``waiting`` (no scheduler yet), ``connected``, ``reconnecting`` (it went away).
        self.connection_state = "connecting"
        self.events_applied = 0
        #: Every page of the job list is in (the table is complete).
        self.loaded = False
        #: The scheduler sends the events in batches (``subscribe`` with ``coalesce``).
        self.coalesced = False
        #: When the scheduler said it stops (it may finish its runs before it hangs up).
        self.stopping_at: datetime | None = None
        self._stats_busy = False
        self._uptime = 0.0
        self._filter_timer: Timer | None = None
        #: The detail's job, when its row changed in a part of a batch still coming.
        self._detail_changed: str | None = None

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept, not queried when used: the 1 s tick and the event pump may run once more
        # while the app closes, after its widgets left the screen.
        self._header = StatsHeader()
        self._status = Static("", id="status")
        self._table = JobsTable(self.clock, id="jobs")
        self._table.times = self.times
        self._event_log = EventLog(self.clock, self.times, id="events")
        yield self._header
        yield FilterInput(
            placeholder="filter jobs by name (enter keeps it, esc clears)", id="filter"
        )
        yield self._status
        yield self._table
        yield self._event_log
        yield Footer()

    def get_default_screen(self) -> Screen[None]:
        return JobsScreen(id="_default")

    @property
    def table(self) -> JobsTable:
        return self._table

    @property
    def event_log(self) -> EventLog:
        return self._event_log

    def on_mount(self) -> None:
        self._status.display = False
        self.set_interval(1.0, self._tick)
        self.run_worker(self._follow(), group="connection", exclusive=True)

    # -- the connection ---------------------------------------------------------------------

    async def _follow(self) -> None:
        name = ""
        while True:
            client = sts.ControlClient(self.socket_path)
            try:
                self.hello = await client.connect()
                # Subscribed before the first page: no event falls between the two, and
                # the rows' revisions say which of an event's and a page's row is newer.
                # Coalesced where the scheduler can: each changed row once per batch.
                self.coalesced = "coalesce" in self.hello.get("features", [])
                if self.coalesced:
                    await client.subscribe_coalesced(COALESCE)
                else:
                    await client.subscribe()
                first = await client.request("jobs", offset=0, limit=FIRST_PAGE)
            except sts.ControlError as error:
                await client.close()
                self._show_status("failed", f"The scheduler refused this client: {error}")
                await asyncio.sleep(self.retry_interval * 10)
                continue
            except OSError:  # no socket, nobody listening, or it hung up during hello
                await client.close()
                self._show_status("reconnecting" if name else "waiting")
                await asyncio.sleep(self.retry_interval)
                continue
            name = str(self.hello.get("scheduler", "?"))
            self.client = client
            self.table.listed = False
            try:
                await self._follow_connected(client, name, first)
            finally:  # also when the app quits and cancels this worker
                self.client = None
                thaw()
                await client.close()
            self.event_log.add(f"scheduler {name} stopped: reconnecting…", "bold red")
            self._show_status("reconnecting")

    async def _follow_connected(
        self, client: sts.ControlClient, name: str, first: dict[str, Any]
    ) -> None:
        self.times.set_scheduler_zone(self.hello.get("timezone"), self.zone)
        self.loaded = False
        self.stopping_at = None
        # Events are applied while the other pages load: the socket is read all along.
        pump = asyncio.ensure_future(self._pump(client))
        try:
            with contextlib.suppress(ConnectionError):
                with collections_paused():
                    self.table.load(first["jobs"], first.get("total", 0))
                    self.event_log.add(f"connected to scheduler {name}", "bold green")
                    self._show_status("connected")
                    self.refresh_stats()
                    await self._load_pages(client, first)
                await pump
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await pump

    async def _load_pages(self, client: sts.ControlClient, first: dict[str, Any]) -> None:
        """The jobs after the first page, a page at a time; over again if jobs were added
        or removed meanwhile (the ``generation`` moved)."""
        page = first
        while "total" in page:  # a scheduler without pages sent every job at once
            generation = page.get("generation")
            # Every page asked for at once: the scheduler answers them back to back, and
            # the table takes each as it comes.
            requests = [
                asyncio.ensure_future(client.request("jobs", offset=offset, limit=PAGE))
                for offset in range(len(page["jobs"]), page["total"], PAGE)
            ]
            try:
                for request in requests:
                    page = await request
                    self.table.extend(page["jobs"])
            finally:
                for request in requests:
                    request.cancel()
            if page.get("generation") == generation:
                break
            page = await client.request("jobs", offset=0, limit=FIRST_PAGE)
            self.table.load(page["jobs"], page.get("total", 0))
        self.table.resort()
        self.table.listed = self.loaded = True

    async def _pump(self, client: sts.ControlClient) -> None:
        async for event in client.events():
            batch = [event, *client.pending_events()]
            await self._apply_in_turns(batch)
            if self.coalesced:
                continue  # the scheduler batches them already, every COALESCE seconds
            # Under load, fewer and larger batches: each costs a frame, whatever its size.
            await asyncio.sleep(BATCH_INTERVAL if len(batch) < BUSY_BATCH else BUSY_INTERVAL)

    def apply_events(self, batch: list[dict[str, Any]]) -> None:
        """Apply a batch of events (or of coalesced ``batch`` events): each job's row once,
        the log's lines in order."""
        rows, count = self._take_events(batch)
        self._put_rows(list(rows.items()))
        self.events_applied += count

    async def _apply_in_turns(self, batch: list[dict[str, Any]]) -> None:
        """:meth:`apply_events`, ROWS_PER_TURN rows at a time with the loop let run in
        between: a key pressed during a burst of 10,000 rows waits for one turn, not all."""
        rows, count = self._take_events(batch)
        items = list(rows.items())
        for start in range(0, len(items), ROWS_PER_TURN):
            if start:
                await asyncio.sleep(0)
            self._put_rows(items[start : start + ROWS_PER_TURN])
        self.events_applied += count

    def _take_events(
        self, batch: list[dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any] | None], int]:
        """Log the batch's events and tell the screens; returns the newest row of each job
        it changed (``None``: removed), for the table, and how many events it held."""
        rows: dict[str, dict[str, Any] | None] = {}
        whole: list[tuple[str, dict[str, Any]]] = []  # the events themselves, in order
        count = 0
        for message in batch:
            event, data = message["event"], message["data"]
            if event == "batch":  # coalesced by the scheduler: rows apart, last events whole
                rows.update((row["name"], row) for row in data["jobs"])
                rows.update((name, None) for name in data["removed"])
                whole += ((inner["event"], inner["data"]) for inner in data["events"])
                count += data["count"]
                continue
            row = data.get("job")
            if isinstance(row, dict):
                removed = event == "job_changed" and data["change"] == "removed"
                rows[row["name"]] = None if removed else row
            whole.append((event, data))
            count += 1
        self._log_events(whole, count, rows)
        self._follow_screens(whole, rows, count)
        return rows, count

    def _put_rows(self, rows: list[tuple[str, dict[str, Any] | None]]) -> None:
        table = self.table
        table.discard_many(name for name, row in rows if row is None)
        table.upsert_many(row for _, row in rows if row is not None)

    def _log_events(
        self,
        events: list[tuple[str, dict[str, Any]]],
        count: int,
        rows: dict[str, dict[str, Any] | None],
    ) -> None:
        shown = events[-LOG_LINES_PER_BATCH:]
        if count > len(shown):
            self.event_log.add(
                f"… {count - len(shown)} earlier events not shown", "dim", flush=False
            )
        jobs = self.table.jobs
        for event, data in shown:
            if event == "scheduler_stopping":
                self.stopping_at = fmt.parse(data["at"])
            name = _job_of(event, data)
            row = data.get("job") or rows.get(name or "") or jobs.get(name or "") or {}
            self.event_log.add_event(event, data, job_zone=row.get("timezone"), flush=False)
        self.event_log.flush()

    def _follow_screens(
        self,
        events: list[tuple[str, dict[str, Any]]],
        rows: dict[str, dict[str, Any] | None],
        count: int,
    ) -> None:
        """The detail (even under a dialog) reloads when its job ran or changed, or says it
        was removed; the timeline colours the fires that ended.

        :param count: the events ``events`` stands for (more when some were only counted;
            none for a part of a coalesced batch: its events come with the last part).
        """
        detail = next((s for s in self.screen_stack if isinstance(s, JobDetailScreen)), None)
        timeline = next((s for s in self.screen_stack if isinstance(s, TimelineScreen)), None)
        if timeline is not None:
            for event, data in events:
                if event == "run_finished":
                    timeline.rows.record(data["record"])
        if detail is None:
            return
        if detail.job in rows:
            if rows[detail.job] is None:
                detail.show_removed()  # what it showed stays; nothing to reload
                return
            self._detail_changed = detail.job
        if not count or self._detail_changed != detail.job:
            return
        self._detail_changed = None
        ended = any(
            event in ("run_finished", "job_changed") and _job_of(event, data) == detail.job
            for event, data in events
        )
        # When some events were only counted (a busy scheduler), its row changed: reload.
        if not detail.removed and (ended or count > len(events)):
            detail.action_reload()

    def _show_status(self, state: str, text: str = "") -> None:
        self.connection_state = state
        status = self._status
        header = self._header
        status.set_class(state in ("reconnecting", "failed"), "lost")
        path = self.socket_path
        if state == "connected":
            status.display = False
            return
        if state == "waiting":
            header.show_text(" STS  no scheduler running")
            text = (
                f"No scheduler is listening on {path}.\n\n"
                "Start one, and this screen connects by itself:\n"
                "  sts run CONFIG                       (a configured scheduler)\n"
                "  sts run --tui CONFIG                 (the scheduler with this UI)\n"
                "  TaskScheduler(control_socket=True)   (in your own Python program)\n\n"
                "Another scheduler name or socket: sts tui --name NAME | --socket PATH"
            )
        elif state == "reconnecting":
            name = self.hello.get("scheduler", "?")
            header.show_text(f" STS  {name} stopped")
            # The time it said it stops, not when it hung up after its last runs.
            stopped = self.times.clock(self.stopping_at or self.clock())
            text = (
                f"The scheduler {name} stopped at {stopped} ({self.times.label()}).\n"
                f"Reconnecting to {path}… (it reconnects by itself when the scheduler is back)"
            )
        status.update(fmt.plain_lines(text))  # names and errors: escaped, never markup
        status.display = True

    # -- stats and countdowns ---------------------------------------------------------------

    def _tick(self) -> None:
        self.table.tick()
        self.refresh_stats()

    @work(group="stats")
    async def refresh_stats(self) -> None:
        client = self.client
        if client is None or self._stats_busy:
            return
        self._stats_busy = True
        try:
            self.stats = await client.request("stats")
        except (OSError, sts.ControlError):
            return
        finally:
            self._stats_busy = False
        started = fmt.parse(self.stats.get("started_at"))
        uptime = (self.clock() - started).total_seconds() if started else 0.0
        self._show_header(max(0.0, uptime))

    def _show_header(self, uptime: float | None = None) -> None:
        if uptime is not None:
            self._uptime = uptime
        name = str(self.hello.get("scheduler", "?"))
        self._header.show(name, self._uptime, self.stats, self.times.label())

    # -- actions ----------------------------------------------------------------------------

    def _selected(self) -> str | None:
        # On a job's detail screen the keys act on that job, not the table's cursor.
        screen = self.screen
        name = screen.job if isinstance(screen, JobDetailScreen) else self.table.selected_job
        if name is None:
            self.notify("No job selected.", severity="warning")
        return name

    def action_run_now(self) -> None:
        name = self._selected()
        if name is not None:
            self.run_now(name)

    def action_toggle_pause(self) -> None:
        name = self._selected()
        if name is not None:
            self.toggle_pause(name)

    def action_remove(self) -> None:
        name = self._selected()
        if name is None:
            return

        def answered(remove: bool | None) -> None:
            if remove:
                if isinstance(self.screen, JobDetailScreen):
                    self.pop_screen()
                self.send("remove", name, f"Removed the job {name}.")

        self.push_screen(ConfirmRemove(name), answered)

    def run_now(self, name: str) -> None:
        self.send("trigger", name, f"Started a manual run of {name}.")

    def toggle_pause(self, name: str) -> None:
        row = self.table.jobs.get(name)
        if row is not None and row["paused"]:
            self.send("resume", name, f"Resumed {name}.")
        else:
            self.send("pause", name, f"Paused {name}.")

    @work(group="actions")
    async def send(self, command: str, job: str, done: str) -> None:
        """Send a control command about ``job``; say how it went."""
        client = self.client
        if client is None:
            self.notify("Not connected to a scheduler.", severity="error")
            return
        try:
            result = await client.request(command, job=job)
        except sts.ControlError as error:
            self.say(error.message, severity="error")
            return
        except OSError as error:
            self.say(f"The scheduler went away: {error}", severity="error")
            return
        row = result.get("job")
        if isinstance(row, dict):
            self.table.upsert(row)
        elif command == "remove":
            self.table.discard(job)
        self.say(done)

    def say(self, text: str, severity: SeverityLevel = "information") -> None:
        """A notification that may quote a job name or an error: escaped, never markup."""
        self.notify(sts.printable(text), severity=severity, markup=False)

    def action_filter(self) -> None:
        field = self.query_one(FilterInput)
        field.add_class("visible")
        field.focus()

    def hide_filter(self) -> None:
        self.query_one(FilterInput).remove_class("visible")
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        # Typing "job-1" is five changes: filter once the typing pauses, not five times
        # over thousands of rows.
        if self._filter_timer is not None:
            self._filter_timer.stop()
        text = event.value.strip()
        self._filter_timer = self.set_timer(FILTER_DELAY, lambda: self._apply_filter(text))

    def _apply_filter(self, text: str) -> None:
        self._filter_timer = None
        if text != self.table.filter_text:
            self.table.set_filter(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._apply_filter(event.value.strip())
        self.hide_filter()

    def action_sort(self) -> None:
        column = self.table.cycle_sort()
        self.notify(f"Sorted by {column}.", timeout=1.5)

    def action_zone(self) -> None:
        """Cycle the zone of every time on screen: scheduler's, each job's, UTC."""
        self.times.cycle()
        self.table.refresh()
        self.event_log.redraw()
        for screen in self.screen_stack:
            if isinstance(screen, JobDetailScreen | TimelineScreen):
                screen.redraw()
        if self.connection_state == "connected":
            self._show_header()
        self.notify(self.times.label(), timeout=1.5)

    def action_timeline(self) -> None:
        """The jobs of the table (filtered and sorted as there) across the next hours."""
        if isinstance(self.screen, TimelineScreen):
            return
        table = self.table
        zones = {name: str(table.jobs[name].get("timezone") or "") for name in table.order}
        screen = TimelineScreen(list(table.order), zones, self._request, self.times, self.clock)
        self.push_screen(screen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def on_jobs_table_job_selected(self, event: JobsTable.JobSelected) -> None:
        self.push_screen(JobDetailScreen(event.job, self._request, self.times))

    async def _request(self, command: str, **arguments: Any) -> dict[str, Any]:
        client = self.client
        if client is None:
            raise ConnectionError("not connected to a scheduler")
        return await client.request(command, **arguments)

    def status_text(self) -> str:
        """The banner's text (empty while connected), for tests and screen readers."""
        status = self._status
        return str(status.render()) if status.display else ""

"""Snapshots of the main screens, against a scheduler process whose clock stands still.

The scheduler's clock and the UI's clock are pinned to the same instant and the history
is written before it starts, so every number on screen is the same on every run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sts_tui.app import SchedulerApp
from sts_tui.detail import JobDetailScreen
from textual.pilot import Pilot

NOW = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)

PINNED_JOBS = """
from datetime import UTC, datetime, timedelta

NOW = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)


class StillClock:
    def timestamp(self):
        return NOW.timestamp()

    def now(self):
        return NOW


scheduler.clock = StillClock()


async def work():
    pass


for name, schedule, zone in [
    ("nightly-report", "every 1h", "Europe/Berlin"),
    ("sync-invoices", "every 15m", "UTC"),
    ("cleanup-tmp", "every 6h", "UTC"),
    ("heartbeat", "every 30s", "UTC"),
]:
    scheduler.schedule(sts.FunctionTask(work, name=name), schedule, name=name, timezone=zone)
scheduler.pause("cleanup-tmp")

for minutes, outcome, error, output in [
    (50, "succeeded", None, {"stdout": "report written: 1,204 rows"}),
    (40, "failed", "ConnectionError: database unreachable", {}),
    (30, "timed_out", "timed out after 30s", {}),
    (20, "succeeded", None, {"stdout": "report written: 1,318 rows"}),
]:
    fire = NOW - timedelta(minutes=minutes)
    scheduler.store.record_run(sts.RunRecord(
        run_id=f"run-{minutes}", job="nightly-report", fire_time=fire,
        outcome=sts.Outcome(outcome), started_at=fire + timedelta(milliseconds=3),
        finished_at=fire + timedelta(seconds=minutes / 10), error=error, output=output,
    ))
"""


def _pinned() -> datetime:
    return NOW


def _app(path: Any) -> SchedulerApp:
    return SchedulerApp(path, clock=_pinned, zone=UTC)


def test_snapshot_of_the_jobs_screen(
    scheduler_factory: Callable[..., Any], snap_compare: Callable[..., bool]
) -> None:
    process = scheduler_factory(PINNED_JOBS)

    async def loaded(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, SchedulerApp)
        while app.table.row_count < 4 or not app.stats:
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(_app(process.path), terminal_size=(110, 24), run_before=loaded)


def test_snapshot_of_a_jobs_detail_across_a_dst_change(
    scheduler_factory: Callable[..., Any], snap_compare: Callable[..., bool]
) -> None:
    process = scheduler_factory(PINNED_JOBS)

    async def detail(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, SchedulerApp)
        while app.table.row_count < 4:
            await pilot.pause(0.05)
        app.table.move_cursor(row=app.table.get_row_index("nightly-report"))
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, JobDetailScreen)
        while not screen.plan:
            await pilot.pause(0.05)
        await pilot.press("down")
        await pilot.press("z")  # each job's zone: the fires in Europe/Berlin, CET then CEST
        await pilot.pause(0.2)

    assert snap_compare(_app(process.path), terminal_size=(130, 30), run_before=detail)


def test_snapshot_without_a_scheduler(
    scheduler_factory: Callable[..., Any], snap_compare: Callable[..., bool]
) -> None:
    process = scheduler_factory(start=False)

    async def waiting(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, SchedulerApp)
        while app.connection_state != "waiting":
            await pilot.pause(0.05)

    # The path is random per run: show it as a fixed one.
    app = SchedulerApp(process.path, clock=_pinned, zone=UTC)
    app.socket_path = type(process.path)("/run/user/1000/sts/sts.sock")
    assert snap_compare(app, terminal_size=(100, 20), run_before=waiting)

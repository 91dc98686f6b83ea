"""The timeline (``t``): one row per job, a mark per fire where the scheduler will fire
it, past fires coloured by outcome, the current time as a line, daylight-saving changes
marked, and zoom between 1 hour, 24 hours and 7 days."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from sts_tui.app import SchedulerApp
from sts_tui.timeline import DST, FIRE, NOW, TimelineScreen, offset_changes
from sts_tui.times import zone_named
from textual.pilot import Pilot

# A nightly job in Berlin time, and one that failed and will fire every 4 hours; the clock
# stands still at NOW (set per test).
CRON_JOBS = """
from datetime import datetime, timedelta

NOW = datetime.fromisoformat({now!r})


class StillClock:
    def timestamp(self):
        return NOW.timestamp()

    def now(self):
        return NOW


scheduler.clock = StillClock()


async def work():
    pass


scheduler.schedule(
    sts.FunctionTask(work, name="nightly"), {nightly}, name="nightly",
    timezone="Europe/Berlin",
)
scheduler.schedule(sts.FunctionTask(work, name="every4h"), "every 4h", name="every4h")
for hours, outcome in [(3, "failed"), (1, "succeeded")]:
    fire = NOW - timedelta(hours=hours)
    scheduler.store.record_run(sts.RunRecord(
        run_id=f"run-{{hours}}", job="every4h", fire_time=fire, outcome=sts.Outcome(outcome),
        started_at=fire, finished_at=fire + timedelta(seconds=1),
    ))
"""


async def _timeline(
    app: SchedulerApp, pilot: Pilot[Any], until: Callable[..., Awaitable[None]]
) -> TimelineScreen:
    await until(pilot, lambda: app.table.row_count == 2, "the jobs")
    await pilot.press("t")
    screen = app.screen
    assert isinstance(screen, TimelineScreen)
    rows = screen.rows
    await until(pilot, lambda: len(rows.fires) == 2 and len(rows.past) == 2, "the fires")
    return screen


#: The nightly job as cron has it (the plugin sts-cron); where cron is not the point, a job
#: every 8 hours from NOW (8 and 16 hours on, in the day's window).
CRON = '"cron 30 2 * * *"'
EVERY_8H = '"every 8h"'


def _needs_cron() -> None:
    # Not a service: another plugin. Each plugin's tests also run in an environment
    # holding only the core and that plugin (.ci/run); the full run has sts-cron.
    pytest.importorskip("sts_cron", reason="cron schedules come from the plugin sts-cron")


@pytest.mark.parametrize(
    ("now", "fire", "change"),
    [
        # Spring: 02:30 does not exist on 29 March; cronie runs such a job at 03:00 CEST.
        ("2026-03-28T22:00:00+00:00", "2026-03-29T01:00:00+00:00", "2026-03-29T01:00:00+00:00"),
        # Autumn: 02:30 happens twice on 25 October; cronie runs it once, the first time.
        ("2026-10-24T22:00:00+00:00", "2026-10-25T00:30:00+00:00", "2026-10-25T01:00:00+00:00"),
    ],
    ids=["spring", "autumn"],
)
@pytest.mark.asyncio
async def test_a_nightly_cron_job_across_a_dst_change_fires_where_cronie_puts_it(
    scheduler_factory: Callable[..., Any],
    until: Callable[..., Awaitable[None]],
    now: str,
    fire: str,
    change: str,
) -> None:
    pinned = datetime.fromisoformat(now)
    _needs_cron()
    process = scheduler_factory(CRON_JOBS.format(now=now, nightly=CRON))
    app = SchedulerApp(process.path, clock=lambda: pinned)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _timeline(app, pilot, until)
        rows = screen.rows
        window = rows.window()
        assert rows.fires["nightly"] == [datetime.fromisoformat(fire)]  # once, not twice
        bar = rows.bar("nightly", window)
        fire_column = window.column(datetime.fromisoformat(fire))
        change_column = window.column(datetime.fromisoformat(change))
        assert fire_column is not None and change_column is not None
        assert bar.plain[fire_column] == FIRE
        assert bar.plain.count(FIRE) == 1
        assert bar.plain[window.column(pinned) or 0] == NOW
        berlin = zone_named("Europe/Berlin")
        assert berlin is not None
        assert offset_changes(berlin, window.start, window.end) == [datetime.fromisoformat(change)]
        if change_column != fire_column:  # a fire at the change hides the marker
            assert bar.plain[change_column] == DST
        # The every-4-hours job (UTC): its past fires by outcome, its next ones in cyan.
        console = Console()
        past = rows.bar("every4h", window)
        failed = window.column(pinned.replace(hour=19))
        succeeded = window.column(pinned.replace(hour=21))
        assert failed is not None and succeeded is not None
        assert past.plain[failed] == past.plain[succeeded] == FIRE
        assert "red" in str(past.get_style_at_offset(console, failed))
        assert "green" in str(past.get_style_at_offset(console, succeeded))
        upcoming = [column for column, mark in enumerate(past.plain) if mark == FIRE]
        assert len(upcoming) == 2 + 4  # two past fires; 4, 8, 12 and 16 hours from now


@pytest.mark.asyncio
async def test_zoom_moves_between_an_hour_a_day_and_a_week(
    scheduler_factory: Callable[..., Any], until: Callable[..., Awaitable[None]]
) -> None:
    now = "2026-03-28T22:00:00+00:00"
    pinned = datetime.fromisoformat(now)
    process = scheduler_factory(CRON_JOBS.format(now=now, nightly=EVERY_8H))
    app = SchedulerApp(process.path, clock=lambda: pinned)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await _timeline(app, pilot, until)
        rows = screen.rows
        title = screen.query_one("#timeline-title")
        assert "24 h" in str(title.render())
        await pilot.press("plus")
        assert "1 h" in str(title.render())
        await pilot.press("minus", "minus")
        assert "7 d" in str(title.render())
        # Every 8 hours over the next 6 days (the seventh is the past): 8, 16, ... 136 h.
        await until(pilot, lambda: len(rows.fires.get("nightly", [])) == 17, "a week's fires")
        window = rows.window()
        assert window.end - window.start == timedelta(days=7)
        assert rows.bar("nightly", window).plain.count(FIRE) == 17
        await pilot.press("escape")
        assert not isinstance(app.screen, TimelineScreen)


def test_snapshot_of_the_timeline_across_the_spring_change(
    scheduler_factory: Callable[..., Any], snap_compare: Callable[..., bool]
) -> None:
    now = "2026-03-28T22:00:00+00:00"
    pinned = datetime.fromisoformat(now)
    process = scheduler_factory(CRON_JOBS.format(now=now, nightly=EVERY_8H))

    async def timeline(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, SchedulerApp)
        while app.table.row_count < 2:
            await pilot.pause(0.05)
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        while len(screen.rows.fires) < 2 or len(screen.rows.past) < 2:
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    # The scheduler's zone taken as Berlin's: the axis marks the change to CEST.
    app = SchedulerApp(process.path, clock=lambda: pinned, zone=ZoneInfo("Europe/Berlin"))
    assert snap_compare(app, terminal_size=(110, 14), run_before=timeline)

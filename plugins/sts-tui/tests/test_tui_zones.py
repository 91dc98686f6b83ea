"""One zone, said: the header names the zone every time on screen is in, and ``z`` moves
the table, the event log, a job's recent runs and its next fires together between the
scheduler's zone, each job's own zone and UTC."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sts_tui.app import SchedulerApp
from sts_tui.detail import JobDetailScreen

pytestmark = pytest.mark.asyncio

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)

# A scheduler in New York (UTC-5 in December) with a job of its own zone and one in Tokyo
# (UTC+9), its clock standing still at NOW; the Tokyo job ran half an hour ago.
ZONED_JOBS = """
from datetime import UTC, datetime, timedelta

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


class StillClock:
    def timestamp(self):
        return NOW.timestamp()

    def now(self):
        return NOW


scheduler = sts.TaskScheduler(
    name="tui-test", control_socket=sys.argv[1], timezone="America/New_York"
)
scheduler.clock = StillClock()


async def work():
    pass


scheduler.schedule(sts.FunctionTask(work, name="local"), "every 1h", name="local")
scheduler.schedule(
    sts.FunctionTask(work, name="tokyo"), "every 1h", name="tokyo", timezone="Asia/Tokyo"
)
fire = NOW - timedelta(minutes=30)
scheduler.store.record_run(sts.RunRecord(
    run_id="run-1", job="tokyo", fire_time=fire, outcome=sts.Outcome("succeeded"),
    started_at=fire, finished_at=fire + timedelta(seconds=2),
))
"""


def _pinned() -> datetime:
    return NOW


async def test_z_moves_every_time_on_screen_to_the_same_zone_and_the_header_says_which(
    scheduler_factory: Callable[..., Any], until: Callable[..., Awaitable[None]]
) -> None:
    process = scheduler_factory(ZONED_JOBS)
    app = SchedulerApp(process.path, clock=_pinned)
    async with app.run_test(size=(140, 36)) as pilot:
        await until(pilot, lambda: app.table.row_count == 2 and app.stats, "the jobs")
        header = app.query_one("#stats-text")

        def shown() -> tuple[str, str, str, str]:
            return (
                str(header.render()),
                app.table.get_cell("local", "at"),
                app.table.get_cell("tokyo", "at"),
                app.event_log.entries[0],
            )

        # The scheduler's zone by default: both jobs' next fire (16:00 UTC) in New York.
        await until(pilot, lambda: "times: America/New_York" in shown()[0], "the header")
        assert shown()[1:3] == ("11:00:00", "11:00:00")
        # The connection's own line: stamped by the UI's clock, in the same zone.
        assert shown()[3].startswith("10:00:00 connected to scheduler tui-test")

        await pilot.press("z")  # each job's zone: the times carry their zone
        await until(pilot, lambda: "times: each job's zone" in shown()[0], "the header")
        assert shown()[1:3] == ("11:00:00 EST", "01:00:00 JST")
        assert shown()[3].startswith("10:00:00 EST connected")

        await pilot.press("z")  # UTC
        await until(pilot, lambda: "times: UTC" in shown()[0], "the header")
        assert shown()[1:3] == ("16:00:00", "16:00:00")
        assert shown()[3].startswith("15:00:00 connected")

        # A job's detail agrees: its recent run and its next fires, in UTC.
        app.table.move_cursor(row=app.table.get_row_index("tokyo"))
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, JobDetailScreen)
        await until(pilot, lambda: screen.plan and screen.runs, "the detail")
        title = str(screen.query_one("#detail-title").render())
        assert "its zone Asia/Tokyo" in title and "times: UTC" in title
        runs = screen.query_one("#runs")
        plan = screen.query_one("#plan")
        assert str(runs.get_cell_at((0, 0))).startswith("14:30:00")  # type: ignore[attr-defined]
        first_fire = str(plan.get_cell_at((0, 0)))  # type: ignore[attr-defined]
        assert first_fire == "Wed 12-02 16:00:00 UTC"
        assert str(plan.get_cell_at((0, 1))) == "12-02 16:00:00"  # type: ignore[attr-defined]

        await pilot.press("z")  # back to the scheduler's zone, on the detail screen too
        await until(
            pilot,
            lambda: "America/New_York" in str(screen.query_one("#detail-title").render()),
            "the detail's zone",
        )
        assert str(runs.get_cell_at((0, 0))).startswith("09:30:00")  # type: ignore[attr-defined]
        assert str(plan.get_cell_at((0, 0))) == "Wed 12-02 11:00:00 EST"  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert app.table.get_cell("tokyo", "at") == "11:00:00"

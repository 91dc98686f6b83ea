"""Job names and errors are text that users and their tasks wrote: the UI shows them as
they are, escaped where a terminal would act on them, and never reads them as markup."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sts_tui.app import SchedulerApp
from sts_tui.detail import JobDetailScreen
from sts_tui.dialogs import ConfirmRemove
from textual.widget import Widget
from textual.widgets import Label

pytestmark = pytest.mark.asyncio
SIZE = (120, 36)
Until = Callable[..., Awaitable[None]]

#: A name with Rich markup, an escape sequence that clears the screen and a right-to-left
#: override; an error with markup and a sequence that sets the terminal's title.
HOSTILE_JOBS = r"""
async def hostile():
    raise RuntimeError("[red]bad\x1b]0;owned\x07 end")

name = "[bold]x\x1b[2J\u202ey"
scheduler.schedule(sts.FunctionTask(hostile, name=name), "every 300ms", name=name)
"""
NAME = "[bold]x\x1b[2J\u202ey"
SHOWN_NAME = "[bold]x\\x1b[2J\\u202ey"
SHOWN_ERROR = "RuntimeError: [red]bad\\x1b]0;owned\\x07 end"


def _screen_text(widget: Widget) -> str:
    """What ``widget`` puts on the terminal, line by line (its segments' text)."""
    lines = (widget.render_line(y) for y in range(widget.size.height))
    return "\n".join("".join(segment.text for segment in line) for line in lines)


def _raw_controls(text: str) -> list[str]:
    return [char for char in text if (ord(char) < 0x20 and char != "\n") or char == "\u202e"]


@pytest.fixture
def app(scheduler_factory: Callable[..., Any]) -> SchedulerApp:
    """The UI of a scheduler whose one job has a hostile name and fails with a hostile error."""
    return SchedulerApp(scheduler_factory(HOSTILE_JOBS).path)


def _failed(app: SchedulerApp) -> object:
    return app.table.jobs.get(NAME, {}).get("failed")


async def test_names_and_errors_are_escaped_in_the_table_and_the_log(
    app: SchedulerApp, until: Until
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: _failed(app), "a failure")
        await until(pilot, lambda: SHOWN_ERROR in "\n".join(app.event_log.entries), "the error")
        await pilot.pause(0.2)
        table = _screen_text(app.table)
        assert SHOWN_NAME in table  # "[bold]" shown, not applied
        log = "\n".join(app.event_log.entries)
        assert f"{SHOWN_NAME}: run started" in log
        assert _raw_controls(table) == [] and _raw_controls(log) == []
        screen = "\n".join(line.text for line in app.event_log.lines)  # as rendered
        assert SHOWN_ERROR[:60] in screen and _raw_controls(screen) == []


async def test_the_detail_and_the_remove_dialog_escape_the_name_and_the_error(
    app: SchedulerApp, until: Until
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: _failed(app), "a failure")
        await pilot.press("enter")
        assert isinstance(app.screen, JobDetailScreen)
        detail = app.screen
        await until(pilot, lambda: detail.runs and detail.plan, "the detail's data")
        await pilot.pause(0.1)
        title = str(detail.query_one("#detail-title").render())
        assert f"Job {SHOWN_NAME} · every 300ms" in title
        runs = _screen_text(detail.query_one("#runs"))
        assert "RuntimeError: [red]" in runs  # the cell is cut to the pane
        details = str(detail.query_one("#run-text").render())
        assert SHOWN_ERROR in details and "Traceback" in details
        for text in (title, runs, details):
            assert _raw_controls(text) == []
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmRemove)
        await pilot.pause(0.1)
        question = str(app.screen.query_one(Label).render())
        assert f"Remove the job {SHOWN_NAME} from the running scheduler?" in question
        assert _raw_controls(question) == []

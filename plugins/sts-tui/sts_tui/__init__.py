"""sts-tui: a Textual terminal UI that follows a running STS scheduler.

Adds ``sts tui [--socket PATH | --name NAME]``; ``run_attached(scheduler)`` runs a
scheduler with the UI in one process (``sts run --tui``). Textual is imported only when
the UI starts, so loading this plugin costs nothing to ``sts --help``.
"""

from __future__ import annotations

import typing

import sts

if typing.TYPE_CHECKING:
    from .app import SchedulerApp as SchedulerApp

#: Imported on use: Textual loads only when the UI starts.
_API = {"SchedulerApp": ".app"}


@sts.hookimpl
def sts_register_commands(register: sts.RegisterCommand) -> None:
    from .command import configure, handler

    register(
        "tui",
        configure,
        handler,
        help="follow a running scheduler in a terminal UI (jobs, runs, live events)",
        attach=run_attached,
    )


def run_attached(scheduler: sts.TaskScheduler) -> int:
    """Run ``scheduler`` and the UI on one event loop until the user quits; the exit code."""
    from .attached import run_attached as run

    return run(scheduler)


async def run_attached_async(scheduler: sts.TaskScheduler) -> int:
    """:func:`run_attached` for a caller that already runs an event loop."""
    from .attached import run_attached_async as run

    return await run(scheduler)


__all__, __getattr__, __dir__ = sts.lazy_exports(
    __name__, _API, eager=["run_attached", "run_attached_async", "sts_register_commands"]
)
del typing

"""``sts run --tui``: the scheduler and the UI in one process, on one event loop.

The UI still talks to the scheduler through its control socket (a private one when the
scheduler has none), so what it shows is exactly what ``sts tui`` would show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sts


@contextlib.contextmanager
def _console_logging_muted() -> Iterator[None]:
    """Detach handlers that write to the terminal while the UI owns it; the events reach
    the UI's log anyway. File and other handlers keep working."""
    detached: list[tuple[logging.Logger, logging.Handler]] = []
    for logger in (logging.getLogger(), logging.getLogger("sts")):
        for handler in list(logger.handlers):
            stream = getattr(handler, "stream", None)
            if stream is sys.stderr or stream is sys.stdout:
                logger.removeHandler(handler)
                detached.append((logger, handler))
    try:
        yield
    finally:
        for logger, handler in detached:
            logger.addHandler(handler)


async def run_attached_async(scheduler: sts.TaskScheduler) -> int:
    """Start ``scheduler``, show the UI until the user quits, then stop the scheduler."""
    from .app import SchedulerApp

    private_dir: str | None = None
    if not scheduler.control_socket:
        private_dir = tempfile.mkdtemp(prefix="sts-tui-")
        scheduler.control_socket = str(Path(private_dir) / "control.sock")
    socket = scheduler.control_socket
    path = sts.default_control_socket(scheduler.name) if socket is True else Path(socket)
    app = SchedulerApp(path)
    try:
        with _console_logging_muted():
            await scheduler.start()
            try:
                code = await app.run_async()
            finally:
                await scheduler.stop()
    finally:
        if private_dir is not None:
            shutil.rmtree(private_dir, ignore_errors=True)
    return code or 0


def run_attached(scheduler: sts.TaskScheduler) -> int:
    """Run ``scheduler`` with the UI attached until the user quits (``sts run --tui``).

    :returns: the exit code (0).
    """
    return asyncio.run(run_attached_async(scheduler))

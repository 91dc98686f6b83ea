"""What runs around a reloadable scheduler: SIGHUP (when it runs as the program's main
loop, on the main thread) and the watches of its config sources."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterator

from .reloader import Reloader
from .watching import follow_source, watching_sources


@contextlib.asynccontextmanager
async def reload_lifespan(reloader: Reloader, main: bool) -> AsyncIterator[Reloader]:
    """Entered as the scheduler starts, exited after its last run."""
    loop = asyncio.get_running_loop()
    hangup = main and threading.current_thread() is threading.main_thread()
    if hangup:
        loop.add_signal_handler(signal.SIGHUP, reloader.request, "SIGHUP")
    watches = [
        loop.create_task(follow_source(reloader, source), name="sts config watch")
        for source in watching_sources(reloader)
    ]
    try:
        yield reloader
    finally:
        if hangup:
            loop.remove_signal_handler(signal.SIGHUP)
        for watch in watches:
            watch.cancel()
        await asyncio.gather(*watches, return_exceptions=True)

"""Reloading when a config source says it changed: ``source.watch()`` is an async
iterator of change notices; a burst of them (a script writing twenty keys) makes one
reload once it settles, not twenty."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from .reloader import Reloader

logger = logging.getLogger("sts.reload")

#: A burst has settled when no notice came for this long (seconds).
QUIET = 0.2
#: The longest a reload waits for a burst to settle after its first notice: a change is
#: applied within a second even while another source keeps writing.
MOST_DELAY = 0.6
#: Waits before watching again after a source's ``watch()`` failed or ended: doubled each
#: time, up to the last.
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


def watching_sources(reloader: Reloader) -> list[Any]:
    """The config sources of the reloader's configuration that can watch."""
    return [
        source for source in reloader.config.sources if callable(getattr(source, "watch", None))
    ]


def source_label(source: Any) -> str:
    return str(getattr(source, "origin", None) or type(source).__name__)


async def follow_source(reloader: Reloader, source: Any) -> None:
    """Reload ``reloader`` on each settled burst of ``source``'s notices, until cancelled.
    A ``watch()`` that fails or ends is started again, with a growing delay."""
    label = source_label(source)
    notices: asyncio.Queue[object] = asyncio.Queue()
    reader = asyncio.get_running_loop().create_task(_read(source, label, notices))
    try:
        while True:
            notice = await notices.get()
            await _settle(notices)
            try:
                await reloader.reload(
                    f"{label} changed ({notice})" if notice else f"{label} changed"
                )
            except Exception:  # a bug in a reload must not end the watch for good
                logger.exception("reload after a change of %s failed", label)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def _settle(notices: asyncio.Queue[object]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MOST_DELAY
    while True:
        left = min(QUIET, deadline - loop.time())
        if left <= 0:
            break
        try:
            async with asyncio.timeout(left):
                await notices.get()
        except TimeoutError:
            break
    while not notices.empty():
        notices.get_nowait()


async def _read(source: Any, label: str, notices: asyncio.Queue[object]) -> None:
    failures = 0
    while True:
        try:
            stream: AsyncIterator[object] = source.watch()
            async for notice in stream:
                failures = 0
                notices.put_nowait(notice)
            logger.warning("config source %s stopped watching; watching again", label)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.error(
                "config source %s failed to watch: %s; the running configuration stays",
                label,
                error,
            )
        delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
        failures += 1
        await asyncio.sleep(delay)

"""Noticing a run that blocks the event loop, and naming it.

An ``async def`` task that calls ``time.sleep(5)`` holds the one loop every job fires on.
asyncio's debug mode reports such slow callbacks, at a cost on every step; here a thread
asks the loop to answer a ping while runs are under way, and when the answer takes longer
than the threshold it names the task the loop is executing (run tasks are named
``job=NAME run=ID``). With no run under way the thread sleeps on an event: an idle
scheduler is never woken by it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("sts")

#: Pings per threshold while runs are under way: a block is seen within a quarter of it.
_PINGS_PER_THRESHOLD = 4


class LoopWatchdog:
    """Warns when ``loop`` does not answer within ``threshold`` seconds.

    :param busy: whether runs are under way (read from the watchdog's thread).
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, threshold: float, busy: Callable[[], bool]
    ) -> None:
        self._loop = loop
        self.threshold = threshold
        self._is_busy = busy
        self._busy = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sts-loop-watchdog", daemon=True)
        #: Blocks seen: ``(task name, seconds)``, for tests and curious callers.
        self.blocks: list[tuple[str, float]] = []

    def start(self) -> None:
        self._thread.start()

    def busy(self) -> None:
        """A run started while none was under way: watch again."""
        if not self._busy.is_set():
            self._busy.set()

    def stop(self) -> None:
        self._stopping.set()
        self._busy.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        pause = self.threshold / _PINGS_PER_THRESHOLD
        while True:
            self._busy.wait()
            if self._stopping.is_set():
                return
            answered = threading.Event()
            sent = time.monotonic()
            try:
                self._loop.call_soon_threadsafe(answered.set)
            except RuntimeError:  # the loop closed
                return
            if answered.wait(self.threshold):
                if not self._is_busy():
                    self._busy.clear()
                    if self._is_busy():  # a run started meanwhile
                        self._busy.set()
                self._stopping.wait(pause)
                continue
            self._blocked(answered, sent)

    def _blocked(self, answered: threading.Event, sent: float) -> None:
        # The loop is still blocked: whatever task it executes now is the culprit.
        task = asyncio.current_task(self._loop)
        culprit = task.get_name() if task is not None else "a callback outside any task"
        logger.warning(
            "the event loop is blocked: %s has kept it busy for over %gs; every other job "
            "waits (an async task must await, not block: make it a sync function, which "
            "runs in a thread, or use asyncio.to_thread)",
            culprit,
            self.threshold,
        )
        while not answered.wait(self.threshold) and not self._stopping.is_set():
            pass
        seconds = time.monotonic() - sent
        self.blocks.append((culprit, seconds))
        logger.warning(
            "the event loop was blocked %.1fs by %s; fires due meanwhile follow the misfire "
            "rules",
            seconds,
            culprit,
        )

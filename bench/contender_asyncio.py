"""The ceiling: ``loop.call_at`` and one ``create_task`` per fire, nothing else."""

from __future__ import annotations

import asyncio
import time

from .contenders import Runs


class BareAsyncio:
    """The least any asyncio scheduler can do: a timer handle per job, a task per fire."""

    name = "asyncio"

    def __init__(self, runs: Runs) -> None:
        self._runs = runs
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # The loop's timers run on the monotonic clock; fire times are wall-clock.
        self._offset = 0.0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._offset = time.time() - self._loop.time()

    async def _run(self, nominal: float) -> None:
        self._runs.started(nominal)

    def _fire_interval(self, name: str, nominal: float, interval: float) -> None:
        assert self._loop is not None
        self._loop.create_task(self._run(nominal))
        following = nominal + interval
        self._handles[name] = self._loop.call_at(
            following - self._offset, self._fire_interval, name, following, interval
        )

    def _fire_once(self, name: str, nominal: float) -> None:
        assert self._loop is not None
        self._loop.create_task(self._run(nominal))
        del self._handles[name]

    def add_interval(self, name: str, interval: float, first: float | None) -> None:
        assert self._loop is not None
        at = time.time() + interval if first is None else first
        self._handles[name] = self._loop.call_at(
            at - self._offset, self._fire_interval, name, at, interval
        )

    def add_once(self, name: str, at: float) -> None:
        assert self._loop is not None
        self._handles[name] = self._loop.call_at(at - self._offset, self._fire_once, name, at)

    def remove(self, name: str) -> None:
        self._handles.pop(name).cancel()

    async def stop(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

"""STS through its public API: ``sts.TaskScheduler`` and ``sts.Task``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import sts

from .contenders import Runs


class Sts:
    """STS with the in-memory store (or another ``store``), one task per job.

    A job is removed with its task (``remove_task``), so each job gets a task of its own.
    The ``sts`` logger is set to WARNING, unless ``log_file`` is given: then it logs at
    INFO (a line per run start and end) to that file, which shows what logging costs.
    """

    def __init__(
        self,
        runs: Runs,
        *,
        name: str = "sts",
        store: sts.StateStore | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.name = name
        self._runs = runs
        self._store = store
        self._log_file = log_file
        self._scheduler: sts.TaskScheduler | None = None
        self._repeated: sts.Task | None = None

        class Probe(sts.Task):
            async def run(self) -> None:
                runs.started(sts.current_run().fire_time.timestamp())

        self._task_type = Probe

    async def start(self) -> None:
        logger = logging.getLogger("sts")
        logger.propagate = False
        if self._log_file is None:
            logger.setLevel(logging.WARNING)
        else:
            logger.setLevel(logging.INFO)
            handler = logging.FileHandler(self._log_file)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
        self._scheduler = sts.TaskScheduler(store=self._store, stop_grace="5s")
        await self._scheduler.start()

    @property
    def scheduler(self) -> sts.TaskScheduler:
        assert self._scheduler is not None
        return self._scheduler

    def add_interval(self, name: str, interval: float, first: float | None) -> None:
        anchor = None if first is None else datetime.fromtimestamp(first, UTC)
        trigger = sts.IntervalTrigger(interval, anchor=anchor)
        self.scheduler.schedule(self._task_type(name=name), trigger, name=name)

    def add_once(self, name: str, at: float) -> None:
        trigger = sts.DateTrigger(datetime.fromtimestamp(at, UTC))
        self.scheduler.schedule(self._task_type(name=name), trigger, name=name)

    def add_unnamed(self, *, repeat: bool) -> None:
        if self._repeated is None:
            self._repeated = self._task_type()
        task = self._repeated if repeat else self._task_type()
        self.scheduler.schedule(task, sts.IntervalTrigger(3600.0))

    def remove(self, name: str) -> None:
        self.scheduler.remove_task(name)

    async def stop(self) -> None:
        await self.scheduler.stop()
        if self._store is not None:
            self._store.close()

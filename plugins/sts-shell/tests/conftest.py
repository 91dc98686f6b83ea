"""Fixtures of the sts-shell tests: a real scheduler to run on, and a look at real processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import psutil
import pytest

import sts

RunJob = Callable[..., Coroutine[Any, Any, tuple[sts.RunRecord, list[sts.RunRecord]]]]


async def _run_job(
    task: sts.Task, *, name: str | None = None, **policy: Any
) -> tuple[sts.RunRecord, list[sts.RunRecord]]:
    async with sts.TaskScheduler(name="shell-test") as scheduler:
        job = scheduler.schedule(task, sts.IntervalTrigger("1h"), name=name, **policy)
        record = await asyncio.wrap_future(scheduler.run_now(job))
        history = scheduler.store.history(job.name)
    return record, history


@pytest.fixture
def run_job() -> RunJob:
    """``await run_job(task, name=None, **policy)``: run ``task`` once now on a real
    scheduler; returns its final record and the job's history, newest first."""
    return _run_job


def _is_gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def is_gone() -> Callable[[int], bool]:
    """``is_gone(pid)``: the process no longer runs (a zombie nobody reaps counts)."""
    return _is_gone

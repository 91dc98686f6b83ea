"""Jobs declared in a config file: options converted to the task type's annotations,
policies and schedules applied, the store and the time zone taken from the file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from config_helpers import Greeter, make_plugins, write_config

import sts
from sts.testing import VirtualClock
from sts_core.service.config import load_config
from sts_core.store import MemoryStore

START = datetime(2026, 1, 1, tzinfo=UTC)

runs: list[str] = []


async def record_run() -> None:
    """The callable of the `python` job below (async: no thread, so virtual time holds)."""
    runs.append(sts.current_run().job)


def test_options_are_converted_to_the_annotated_types(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        f"""
[job:greeting]
type = greet
schedule = every 10s
who = Ada
times = 3
loud = yes
ratio = 0.5
out = {tmp_path}/out.txt
tags = a, b,
    c
pause = 1m30s
every = 2h
mode = Fancy
""",
    )
    config = load_config(path, environ={}, plugins=make_plugins())
    scheduler = config.build_scheduler(store=MemoryStore())
    job = scheduler.get_job("greeting")
    task = job.task
    assert isinstance(task, Greeter)
    assert task.name == "greeting"
    assert (task.who, task.times, task.loud, task.ratio) == ("Ada", 3, True, 0.5)
    assert task.out == tmp_path / "out.txt"
    assert task.tags == ["a", "b", "c"]
    assert task.pause == timedelta(seconds=90)  # Duration: a union that takes a timedelta
    assert task.every == timedelta(hours=2)
    assert task.mode == "fancy"


def test_optional_and_default_options(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, "[job:g]\ntype = greet\nschedule = every 1s\nwho = x\nout = none\npause = 10\n"
    )
    task = load_config(path, environ={}, plugins=make_plugins()).jobs()[0].task
    assert isinstance(task, Greeter)
    assert task.out is None
    assert task.pause == 10  # a plain number stays a number
    assert (task.times, task.tags) == (1, None)


def test_policies_and_schedule_apply(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
[scheduler]
timezone = Europe/Berlin
stop_grace = 3s

[job:nightly]
type = greet
who = Ada
schedule = at 2026-01-02T03:00
retries = 3
backoff = 5s
timeout = 30m
overlap = queue
misfire_grace = 2m
paused = off
""",
    )
    scheduler = load_config(path, environ={}, plugins=make_plugins()).build_scheduler(
        store=MemoryStore()
    )
    job = scheduler.get_job("nightly")
    assert job.policy.retry.retries == 3
    assert job.policy.retry.backoff == 5
    assert job.policy.timeout == 1800
    assert job.policy.overlap == "queue"
    assert job.policy.misfire_grace == 120
    assert job.paused is False
    assert scheduler.timezone == ZoneInfo("Europe/Berlin")
    assert scheduler.stop_grace == 3
    # "at" without an offset is read in the scheduler's zone.
    assert job.next_fire == datetime(2026, 1, 2, 3, tzinfo=ZoneInfo("Europe/Berlin"))


def test_a_jobs_own_time_zone(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "[job:ny]\ntype = greet\nwho = x\nschedule = at 2026-03-01T09:00\n"
        "timezone = America/New_York\n",
    )
    scheduler = load_config(path, environ={}, plugins=make_plugins()).build_scheduler(
        store=MemoryStore()
    )
    assert scheduler.get_job("ny").next_fire == datetime(2026, 3, 1, 14, tzinfo=UTC)  # 09:00 EST


def test_configured_jobs_run_on_the_virtual_clock(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    runs.clear()
    path = write_config(
        tmp_path,
        f"""
[scheduler]
timezone = UTC

[job:python-job]
type = python
callable = {__name__}:record_run
schedule = every 10s

[job:greeting]
type = greet
who = Ada
out = {tmp_path}/out.txt
schedule = every 15s
""",
    )
    scheduler = load_config(path, environ={}, plugins=make_plugins()).build_scheduler(
        clock=virtual_clock, store=MemoryStore()
    )

    async def main() -> None:
        async with scheduler:
            await asyncio.sleep(31)

    virtual_clock.run(main())
    assert runs == ["python-job"] * 3
    assert (tmp_path / "out.txt").read_text() == "hello Ada\n" * 2
    assert [job.name for job in scheduler.jobs] == ["python-job", "greeting"]


def test_the_store_comes_from_the_state_key_with_its_options(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "[scheduler]\nstate = memory\n[state]\nsuccess_history = 2\n"
        "[job:g]\ntype = greet\nwho = x\nschedule = every 1s\n",
    )
    scheduler = load_config(path, environ={}, plugins=make_plugins()).build_scheduler()
    assert isinstance(scheduler.store, MemoryStore)
    assert scheduler.store._success_limit == 2


def test_sqlite_store_from_config(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        f"[scheduler]\nname = nightly\n[state]\npath = {tmp_path}/state.db\n"
        "[job:g]\ntype = greet\nwho = x\nschedule = every 1s\n",
    )
    scheduler = load_config(path, environ={}, plugins=make_plugins()).build_scheduler()
    try:
        assert type(scheduler.store).__name__ == "SQLiteStore"
        assert (tmp_path / "state.db").exists()
        assert scheduler.name == "nightly"
    finally:
        scheduler.store.close()


def test_scheduler_options_win_over_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[scheduler]\nname = from-file\nmax_workers = 2\n")
    config = load_config(path, environ={}, plugins=make_plugins())
    scheduler = config.build_scheduler(store=MemoryStore(), name="given", seed=1)
    assert scheduler.name == "given"
    assert scheduler.max_workers == 2


def test_a_config_without_jobs_builds_an_empty_scheduler(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[scheduler]\nstate = memory\n")
    scheduler = load_config(path, environ={}, plugins=make_plugins()).build_scheduler()
    assert scheduler.jobs == []


def test_each_job_is_compiled_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The schedule text is parsed once and the scheduler gets the built trigger and policy;
    # configuration builds no scheduler of its own to parse with.
    made: list[str] = []

    class Counted:
        @sts.hookimpl
        def sts_register_triggers(self, register):  # type: ignore[no-untyped-def]
            def counted(spec: str, **options: object) -> sts.IntervalTrigger:
                made.append(spec)
                return sts.IntervalTrigger(spec)

            register("counted", counted)

    built: list[str] = []
    original = sts.TaskScheduler.__init__

    def counting_init(self: sts.TaskScheduler, **options: Any) -> None:
        built.append(options.get("name", "?"))
        original(self, **options)

    monkeypatch.setattr(sts.TaskScheduler, "__init__", counting_init)
    path = write_config(
        tmp_path,
        """
[job:a]
type = greet
who = Ada
schedule = counted 10s
retries = 2

[job:b]
type = greet
who = Bob
schedule = counted 20s
""",
    )
    scheduler = load_config(path, environ={}, plugins=make_plugins(Counted())).build_scheduler(
        store=MemoryStore()
    )
    assert sorted(made) == ["10s", "20s"]
    assert len(built) == 1
    assert scheduler.get_job("a").policy.retry.retries == 2

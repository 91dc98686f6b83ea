"""Pages of the job list and row revisions: what a client following 10,000 jobs needs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from control_helpers import running_scheduler, succeed

import sts
from sts_core.service.control import ControlClient, ControlError, request


def _many(scheduler: sts.TaskScheduler) -> None:
    task = sts.FunctionTask(succeed, name="work")
    for number in range(25):
        scheduler.schedule(task, "every 1h", name=f"job-{number:02d}")


def test_pages_of_the_job_list_cover_every_job_once_in_scheduling_order() -> None:
    with running_scheduler(_many) as (_, path):
        names: list[str] = []
        offset = 0
        while True:
            page = request(path, "jobs", offset=offset, limit=10)
            assert page["total"] == 25 and page["offset"] == offset
            names += [row["name"] for row in page["jobs"]]
            offset += len(page["jobs"])
            if offset >= page["total"]:
                break
        everything = request(path, "jobs")
    assert names == [f"job-{number:02d}" for number in range(25)]
    assert [row["name"] for row in everything["jobs"]] == names  # no limit: all of them
    assert everything["total"] == 25


def test_a_page_past_the_end_is_empty_and_bad_bounds_are_refused() -> None:
    with running_scheduler(_many) as (_, path):
        assert request(path, "jobs", offset=100, limit=10)["jobs"] == []
        for arguments, expected in (
            ({"limit": 0}, "'limit' of 'jobs' must be a whole number from 1 to 10000"),
            ({"offset": -1}, "'offset' of 'jobs' must be a whole number from 0"),
            ({"offset": "3"}, "'offset' of 'jobs' must be a whole number"),
        ):
            with pytest.raises(ControlError) as caught:
                request(path, "jobs", **arguments)
            assert caught.value.code == "bad_argument"
            assert expected in caught.value.message


def test_the_generation_moves_when_a_job_is_added_or_removed_not_when_one_runs() -> None:
    with running_scheduler(_many) as (_, path):
        before = request(path, "jobs", limit=1)["generation"]
        request(path, "trigger", job="job-00", wait=True)
        request(path, "pause", job="job-01")
        assert request(path, "jobs", limit=1)["generation"] == before
        request(path, "remove", job="job-02")
        assert request(path, "jobs", limit=1)["generation"] > before


def test_a_rows_revision_grows_with_every_event_so_the_newer_row_is_known() -> None:
    async def follow(path: Path) -> None:
        async with ControlClient(path) as client:
            await client.subscribe()
            (first,) = (await client.request("jobs", job="job-00"))["jobs"]
            await client.request("trigger", job="job-00", wait=True)
            events = [event async for event in _take(client, 2)]  # started, finished
            (last,) = (await client.request("jobs", job="job-00"))["jobs"]
        revisions = [event["data"]["job"]["revision"] for event in events]
        assert first["revision"] < revisions[0] < revisions[1] <= last["revision"]

    with running_scheduler(_many) as (_, path):
        asyncio.run(follow(path))


async def _take(client: ControlClient, count: int) -> AsyncIterator[dict[str, Any]]:
    async for event in client.events():
        yield event
        count -= 1
        if count == 0:
            return


def test_catch_up_runs_after_a_restart_are_counted_apart_from_the_lateness() -> None:
    from datetime import UTC, datetime, timedelta

    from sts_core.records import RunContext
    from sts_core.service.control.stats import SchedulerStats

    stats = SchedulerStats()
    started = datetime(2026, 1, 1, 12, tzinfo=UTC)
    # A fire from an hour before the scheduler started, run at the start: an hour late.
    overdue = RunContext("old", "job", started - timedelta(hours=1), 1, started)
    stats.run_started(overdue, now=0.0, since=started)
    fire = started + timedelta(seconds=5)
    on_time = RunContext("new", "job", fire, 1, fire + timedelta(milliseconds=2))
    stats.run_started(on_time, now=5.0, since=started)
    assert stats.catch_up_runs == 1
    assert stats.lateness_p99() == pytest.approx(0.002)  # not 3,600 s
    assert stats.fires_last_minute(now=5.0) == 2  # both were fires


def test_a_jobs_last_outcome_at_start_is_its_newest_stored_run() -> None:
    from datetime import UTC, datetime, timedelta

    def setup(scheduler: sts.TaskScheduler) -> None:
        _many(scheduler)
        fire = datetime.now(UTC) - timedelta(hours=2)
        for number, outcome in enumerate(["succeeded", "failed"]):  # the failure is newer
            started = fire + timedelta(hours=number)
            scheduler.store.record_run(
                sts.RunRecord(
                    run_id=f"run-{number}",
                    job="job-00",
                    fire_time=started,
                    outcome=sts.Outcome(outcome),
                    started_at=started,
                    finished_at=started + timedelta(seconds=number + 1),
                )
            )

    with running_scheduler(setup) as (_, path):
        (row,) = request(path, "jobs", job="job-00")["jobs"]
    assert row["last_outcome"] == "failed"
    assert row["last_duration"] == 2.0


def test_a_coalesced_subscription_gets_each_changed_row_once_per_batch() -> None:
    def every_50ms(scheduler: sts.TaskScheduler) -> None:
        task = sts.FunctionTask(succeed, name="work")
        for number in range(5):
            scheduler.schedule(task, "every 50ms", name=f"fast-{number}")
        scheduler.schedule(task, "every 1h", name="slow")

    async def follow(path: Path) -> list[dict[str, Any]]:
        async with ControlClient(path) as client:
            assert "coalesce" in client.hello["features"]
            answer = await client.subscribe_coalesced(0.3)
            assert answer["coalesce"] == 0.3
            batches = [event async for event in _take(client, 3)]
            await client.request("remove", job="slow")
            async for event in client.events():
                if event["data"]["removed"]:
                    batches.append(event)
                    break
        return batches

    with running_scheduler(every_50ms) as (_, path):
        batches = asyncio.run(follow(path))
    assert {batch["event"] for batch in batches} == {"batch"}  # nothing one by one
    for batch in batches[:3]:
        data = batch["data"]
        names = [row["name"] for row in data["jobs"]]
        assert len(names) == len(set(names))  # each changed job's row once
        assert set(names) <= {f"fast-{number}" for number in range(5)}
        # 5 jobs every 50 ms for 0.3 s: about 60 events, 50 of them whole, all counted.
        assert data["count"] >= len(data["events"]) > 0
        assert len(data["events"]) <= 50
        assert all("job" not in event["data"] for event in data["events"])
        assert all(event["event"] in ("run_started", "run_finished") for event in data["events"])
    assert batches[-1]["data"]["removed"] == ["slow"]


def test_coalesce_out_of_bounds_is_refused() -> None:
    with running_scheduler(_many) as (_, path):
        for value in (0, 0.01, 11, True, "1"):
            with pytest.raises(ControlError) as caught:
                request(path, "subscribe", coalesce=value)
            assert "'coalesce' of 'subscribe' must be a number of seconds" in caught.value.message


def test_a_batch_of_many_rows_comes_in_lines_of_a_bounded_size_the_events_in_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A client decodes a line in one go: a burst of 10,000 rows must not be one line.
    monkeypatch.setattr("sts_core.service.control.coalesce.ROWS_PER_LINE", 3)

    def together(scheduler: sts.TaskScheduler) -> None:
        task = sts.FunctionTask(succeed, name="work")
        for number in range(8):
            scheduler.schedule(task, "every 100ms", name=f"fast-{number}")

    async def follow(path: Path) -> list[list[dict[str, Any]]]:
        batches: list[list[dict[str, Any]]] = []  # the lines of each batch
        async with ControlClient(path) as client:
            await client.subscribe_coalesced(0.5)
            lines: list[dict[str, Any]] = []
            async for event in client.events():
                lines.append(event["data"])
                if event["data"]["count"]:  # the last line of a batch
                    batches.append(lines)
                    lines = []
                    if len(batches) == 3:
                        break
        return batches

    with running_scheduler(together) as (_, path):
        batches = asyncio.run(follow(path))
    assert any(len(lines) > 1 for lines in batches)  # 8 jobs changed in 0.5 s: split
    for lines in batches:
        *parts, last = lines
        for part in parts:  # full lines of rows, nothing else
            assert len(part["jobs"]) == 3
            assert part["removed"] == [] and part["events"] == [] and part["count"] == 0
        assert 0 < len(last["jobs"]) <= 3 or not parts
        assert last["count"] >= len(last["events"]) > 0
        names = [row["name"] for data in lines for row in data["jobs"]]
        assert len(names) == len(set(names))  # each changed job's row once in the batch

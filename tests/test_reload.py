"""Live reload on the virtual clock: a job fires on its old schedule up to the reload and
on its new one after; an unchanged job is not touched; a bad reload changes nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from config_helpers import make_plugins, write_config

import sts
from sts_core.service.config import load_config
from sts_core.service.reload import ReloadResult, reloadable_scheduler, reloader_of

BASE = """
[scheduler]
name = reload-test
timezone = UTC

[job:often]
type = greet
who = often
schedule = every 10s

[job:steady]
type = greet
who = steady
schedule = every 7s
"""


class Fires:
    """The fire times of each job, from the scheduler's events."""

    def __init__(self) -> None:
        self.by_job: dict[str, list[datetime]] = {}

    def __call__(self, event: str, **facts: Any) -> None:
        if event == "run_started" and facts["run"].attempt == 1:
            run = facts["run"]
            self.by_job.setdefault(run.job, []).append(run.fire_time)


def build(path: Path, clock: sts.testing.VirtualClock) -> tuple[sts.TaskScheduler, Fires]:
    config = load_config(path, plugins=make_plugins())
    scheduler = reloadable_scheduler(config, clock=clock, store=sts.MemoryStore())
    fires = Fires()
    scheduler.add_listener(fires)
    return scheduler, fires


def seconds(fires: list[datetime], start: datetime) -> list[float]:
    return [(fire - start).total_seconds() for fire in fires]


def test_fires_follow_the_old_schedule_up_to_the_reload_and_the_new_one_after(
    tmp_path: Path, virtual_clock: sts.testing.VirtualClock
) -> None:
    path = write_config(tmp_path, BASE)
    scheduler, fires = build(path, virtual_clock)
    start = virtual_clock.now()
    results: list[ReloadResult] = []

    async def main() -> None:
        async with scheduler:
            reloader = reloader_of(scheduler)
            assert reloader is not None
            steady = scheduler.get_job("steady")
            await asyncio.sleep(33)  # between two fires of each job
            steady_next, steady_task = steady.next_fire, steady.task
            path.write_text(BASE.replace("schedule = every 10s", "schedule = every 3s"))
            results.append(await reloader.reload("test"))
            # The unchanged job is the same object, with the same task and next fire.
            assert scheduler.get_job("steady") is steady
            assert steady.task is steady_task and steady.next_fire == steady_next
            await asyncio.sleep(11)

    virtual_clock.run(main())
    (result,) = results
    assert result.ok, result.errors
    assert result.changed == {"often": ["schedule"]} and result.unchanged == 1
    assert result.summary == "+0 -0 ~1"
    assert seconds(fires.by_job["often"], start) == [10, 20, 30, 36, 39, 42]
    # The unchanged job never noticed: every 7 s from the start, through the reload.
    assert seconds(fires.by_job["steady"], start) == [7, 14, 21, 28, 35, 42]


def test_a_job_added_and_one_removed(
    tmp_path: Path, virtual_clock: sts.testing.VirtualClock
) -> None:
    path = write_config(tmp_path, BASE)
    scheduler, fires = build(path, virtual_clock)
    start = virtual_clock.now()
    results: list[ReloadResult] = []

    async def main() -> None:
        async with scheduler:
            reloader = reloader_of(scheduler)
            assert reloader is not None
            await asyncio.sleep(15)
            text = BASE.replace("[job:often]", "[job:fresh]").replace("every 10s", "every 4s")
            path.write_text(text)
            results.append(await reloader.reload("test"))
            await asyncio.sleep(10)

    virtual_clock.run(main())
    (result,) = results
    assert result.ok, result.errors
    assert (result.added, result.removed, result.changed) == (["fresh"], ["often"], {})
    assert [job.name for job in scheduler.jobs] == ["steady", "fresh"]
    assert seconds(fires.by_job["often"], start) == [10]
    assert seconds(fires.by_job["fresh"], start) == [19, 23]


def test_a_bad_reload_changes_nothing_and_names_where(
    tmp_path: Path, virtual_clock: sts.testing.VirtualClock
) -> None:
    path = write_config(tmp_path, BASE)
    scheduler, fires = build(path, virtual_clock)
    start = virtual_clock.now()
    results: list[ReloadResult] = []

    async def main() -> None:
        async with scheduler:
            reloader = reloader_of(scheduler)
            assert reloader is not None
            await asyncio.sleep(15)
            before = [(job.name, job.schedule, job.next_fire, job.task) for job in scheduler.jobs]
            # One good change and one bad: neither applies.
            broken = BASE.replace("every 10s", "every 2s").replace("every 7s", "every soon")
            path.write_text(broken + "\n[job:extra]\ntype = greet\nwho = x\nschedule = every 1s\n")
            results.append(await reloader.reload("test"))
            after = [(job.name, job.schedule, job.next_fire, job.task) for job in scheduler.jobs]
            assert after == before
            path.write_text(BASE.replace("every 10s", "every 2s"))
            results.append(await reloader.reload("test"))
            await asyncio.sleep(5)

    virtual_clock.run(main())
    refused, fixed = results
    assert not refused.ok
    assert any(f"{path}:" in error and "every soon" in error for error in refused.errors)
    assert fixed.ok and fixed.changed == {"often": ["schedule"]}
    assert seconds(fires.by_job["often"], start) == [10, 17, 19]


def test_a_changed_option_keeps_the_next_fire_and_a_run_under_way_finishes_as_it_started(
    tmp_path: Path, virtual_clock: sts.testing.VirtualClock
) -> None:
    out_old, out_new = tmp_path / "old.txt", tmp_path / "new.txt"
    text = BASE.replace("who = often", f"who = often\nout = {out_old}")
    path = write_config(tmp_path, text)
    scheduler, _fires = build(path, virtual_clock)
    results: list[ReloadResult] = []

    async def main() -> None:
        async with scheduler:
            reloader = reloader_of(scheduler)
            assert reloader is not None
            job = scheduler.get_job("often")
            await asyncio.sleep(12)
            next_fire = job.next_fire
            path.write_text(text.replace(str(out_old), str(out_new)))
            results.append(await reloader.reload("test"))
            assert job.next_fire == next_fire
            assert scheduler.get_task("often") is job.task
            await asyncio.sleep(10)

    virtual_clock.run(main())
    (result,) = results
    assert result.changed == {"often": ["out"]}
    assert out_old.read_text() == "hello often\n"
    assert out_new.read_text() == "hello often\n"


def test_settings_fixed_at_start_are_named_in_a_warning(
    tmp_path: Path, virtual_clock: sts.testing.VirtualClock, caplog: Any
) -> None:
    path = write_config(tmp_path, BASE)
    scheduler, _ = build(path, virtual_clock)
    results: list[ReloadResult] = []

    async def main() -> None:
        async with scheduler:
            reloader = reloader_of(scheduler)
            assert reloader is not None
            path.write_text(BASE.replace("timezone = UTC", "timezone = UTC\nmax_workers = 3"))
            results.append(await reloader.reload("test"))

    virtual_clock.run(main())
    (result,) = results
    assert result.ok and result.at_next_start == ["[scheduler] max_workers"]
    assert "take effect at its next start: [scheduler] max_workers" in caplog.text


def test_reload_of_ten_thousand_jobs_touches_only_the_changed_one(
    tmp_path: Path, virtual_clock: sts.testing.VirtualClock
) -> None:
    jobs = "".join(
        f"\n[job:j{number}]\ntype = greet\nwho = {number}\nschedule = every 1h\n"
        for number in range(10_000)
    )
    path = write_config(tmp_path, "[scheduler]\nname = big\ntimezone = UTC\n" + jobs)
    scheduler, _ = build(path, virtual_clock)
    results: list[ReloadResult] = []

    async def main() -> None:
        async with scheduler:
            reloader = reloader_of(scheduler)
            assert reloader is not None
            tasks = {job.name: job.task for job in scheduler.jobs}
            path.write_text(path.read_text().replace("who = 5000\n", "who = five\n"))
            results.append(await reloader.reload("test"))
            touched = [job.name for job in scheduler.jobs if job.task is not tasks[job.name]]
            assert touched == ["j5000"]

    virtual_clock.run(main())
    (result,) = results
    assert result.ok and result.changed == {"j5000": ["who"]} and result.unchanged == 9_999
    print(f"reload of 10,000 jobs, one changed: {result.seconds:.3f}s")
    # Not a timing bound (the machine is shared): the number goes to the notes.
    assert result.seconds > 0


class WatchedSource:
    """A config source whose values and change notices the test controls."""

    values: dict[str, dict[str, str]] = {}
    notices: asyncio.Queue[str] | None = None
    loads = 0
    origin = "test source"

    def load(self) -> dict[str, dict[str, str]]:
        WatchedSource.loads += 1
        return {section: dict(keys) for section, keys in WatchedSource.values.items()}

    async def watch(self) -> Any:
        assert WatchedSource.notices is not None
        while True:
            yield await WatchedSource.notices.get()


class WatchedSourcePlugin:
    @sts.hookimpl
    def sts_register_config_sources(self, register: Any) -> None:
        register("watched", WatchedSource)


def test_a_burst_of_change_notices_makes_one_reload_within_a_second(
    tmp_path: Path, virtual_clock: sts.testing.VirtualClock
) -> None:
    WatchedSource.values = {"job:w": {"type": "greet", "who": "w", "schedule": "every 10s"}}
    WatchedSource.loads = 0
    path = write_config(tmp_path, "[scheduler]\nname = watched\nsources = watched\n")
    config = load_config(path, plugins=make_plugins(WatchedSourcePlugin()))
    scheduler = reloadable_scheduler(config, clock=virtual_clock, store=sts.MemoryStore())
    results: list[tuple[float, ReloadResult]] = []
    start = virtual_clock.now()

    async def main() -> None:
        WatchedSource.notices = asyncio.Queue()
        async with scheduler:
            reloader = reloader_of(scheduler)
            assert reloader is not None
            reloader.listeners.append(
                lambda result: results.append(
                    ((virtual_clock.now() - start).total_seconds(), result)
                )
            )
            await asyncio.sleep(5)
            for number in range(20):  # a script writing twenty keys, 10 ms apart
                WatchedSource.values[f"job:n{number}"] = {
                    "type": "greet",
                    "who": str(number),
                    "schedule": "every 1m",
                }
                WatchedSource.notices.put_nowait(f"put {number}")
                await asyncio.sleep(0.01)
            await asyncio.sleep(3)
            WatchedSource.values["job:w"]["schedule"] = "every 2s"
            WatchedSource.notices.put_nowait("put w")
            await asyncio.sleep(3)

    virtual_clock.run(main())
    assert WatchedSource.loads == 3  # at start, then one per burst
    (burst_at, burst), (single_at, single) = results
    assert burst.ok and len(burst.added) == 20 and burst.trigger.startswith("test source changed")
    # The burst ran 5.0 .. 5.2 s: applied once it settled, within a second of its start.
    assert 5.2 < burst_at <= 6.0
    # A lone change at 8.2 s: applied 0.2 s later, when no other notice came.
    assert single.ok and single.changed == {"w": ["schedule"]}
    assert 8.3 < single_at <= 8.5


class Labelled(sts.Task):
    """Takes 5 s and says which version of the job ran."""

    ran: list[tuple[str, float]] = []

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    async def run(self) -> None:
        await asyncio.sleep(5)
        Labelled.ran.append((self.label, sts.current_run().fire_time.timestamp()))


def test_schedule_replace_keeps_the_job_and_its_run_under_way(
    virtual_clock: sts.testing.VirtualClock,
) -> None:
    Labelled.ran = []
    scheduler = sts.TaskScheduler(clock=virtual_clock, timezone="UTC")
    start = virtual_clock.now().timestamp()

    async def main() -> None:
        async with scheduler:
            job = scheduler.schedule(Labelled("old"), "every 10s", name="j", timeout="1h")
            await asyncio.sleep(12)  # the 10 s run is under way (until 15 s)
            assert job.running
            same = scheduler.schedule(
                Labelled("new"), "every 10s", name="j", replace=True, timeout="2h"
            )
            assert same is job and job.next_fire is not None
            assert (job.next_fire.timestamp() - start) == 20  # same schedule: same next fire
            assert job.policy.timeout == 7200 and scheduler.tasks == [job.task]
            await asyncio.sleep(14)

    virtual_clock.run(main())
    assert [(label, fire - start) for label, fire in Labelled.ran] == [("old", 10), ("new", 20)]


def test_a_job_removed_by_hand_then_from_the_file(
    tmp_path: Path, virtual_clock: sts.testing.VirtualClock
) -> None:
    path = write_config(tmp_path, BASE)
    scheduler, _ = build(path, virtual_clock)
    results: list[ReloadResult] = []

    async def main() -> None:
        async with scheduler:
            reloader = reloader_of(scheduler)
            assert reloader is not None
            scheduler.remove_job("often")  # `sts remove often`
            path.write_text(BASE[: BASE.index("[job:often]")] + BASE[BASE.index("[job:steady]") :])
            results.append(await reloader.reload("test"))

    virtual_clock.run(main())
    (result,) = results
    assert result.ok and result.removed == ["often"]
    assert [job.name for job in scheduler.jobs] == ["steady"]


class Fragile:
    """A schedule that parses, but cannot give a next fire (its calendar is away)."""

    def __init__(self, spec: str, **options: Any) -> None:
        self.spec = spec

    def next_fire_time(self, after: datetime) -> datetime | None:
        raise ValueError("the calendar service is down")

    def __str__(self) -> str:
        return f"fragile {self.spec}"


class FragilePlugin:
    @sts.hookimpl
    def sts_register_triggers(self, register: Any) -> None:
        register("fragile", Fragile)


def test_a_reload_whose_new_schedule_cannot_fire_is_refused_whole(
    tmp_path: Path, virtual_clock: sts.testing.VirtualClock
) -> None:
    """What ``schedule`` asks a trigger first is asked before anything changes: a new job
    whose schedule fails there refuses the whole reload (the removal too), and the next
    good reload applies."""
    path = write_config(tmp_path, BASE)
    config = load_config(path, plugins=make_plugins(FragilePlugin()))
    scheduler = reloadable_scheduler(config, clock=virtual_clock, store=sts.MemoryStore())
    results: list[ReloadResult] = []

    async def main() -> list[str]:
        async with scheduler:
            reloader = reloader_of(scheduler)
            assert reloader is not None
            broken = BASE.replace(
                "[job:steady]",
                "[job:new]\ntype = greet\nwho = x\n" "schedule = fragile soon\n\n[job:steady]",
            )
            path.write_text(
                broken.replace("schedule = every 10s", "schedule = every 4s").split("[job:steady]")[
                    0
                ]
            )  # also removes steady
            results.append(await reloader.reload("test"))
            names = sorted(job.name for job in scheduler.jobs)
            path.write_text(BASE.replace("schedule = every 10s", "schedule = every 4s"))
            results.append(await reloader.reload("test"))
            return names

    names = virtual_clock.run(main())
    refused, applied = results
    assert not refused.ok and "cannot give its next fire" in " ".join(refused.errors)
    assert names == ["often", "steady"]  # nothing removed, nothing added
    assert applied.ok and list(applied.changed) == ["often"]

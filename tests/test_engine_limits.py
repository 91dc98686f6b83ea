"""Limits on the numbers that come in, with errors that name the key, the value and the
valid range, from the Python API and config files alike; and arithmetic in the runner that
cannot overflow, whatever a retry policy answers."""

from __future__ import annotations

import asyncio
import math
import random
from pathlib import Path

import pytest
from config_helpers import make_plugins, write_config
from core_helpers import Recorder

import sts
from sts.testing import VirtualClock
from sts_core.policy import RetryPolicy
from sts_core.service.config import ConfigError, load_config
from sts_core.store import MemoryStore


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"retries": 1025}, r"invalid retries 1025: expected a whole number from 0 to 1000"),
        ({"retries": "100000"}, r"invalid retries '100000'.*0 to 1000"),
        (
            {"backoff": 10**14},
            r"invalid backoff 100000000000000.0: expected a duration from 0 to 1d \(0 to 86400 s",
        ),
        ({"max_backoff": "1000000d"}, r"invalid max_backoff .*0 to 1d"),
        (
            {"start": "2027-01-01T00:00Z", "end": "2027-01-01T00:00Z"},
            r"invalid end 2027-01-01T00:00:00\+00:00: it must be after start",
        ),
        (
            {"start": "2027-06-01T00:00Z", "end": "2027-01-01T00:00Z"},
            r"invalid end .*after start 2027-06-01",
        ),
    ],
)
def test_the_python_api_refuses_numbers_out_of_range(
    virtual_clock: VirtualClock, policy: dict[str, object], expected: str
) -> None:
    scheduler = sts.TaskScheduler(clock=virtual_clock)
    with pytest.raises(ValueError, match=expected):
        scheduler.schedule(Recorder(virtual_clock), "every 10s", **policy)
    assert scheduler.jobs == []


@pytest.mark.parametrize("spec", ["every 0.0000001", "every 1ms", "every 0.009"])
def test_intervals_below_the_floor_are_refused(virtual_clock: VirtualClock, spec: str) -> None:
    scheduler = sts.TaskScheduler(clock=virtual_clock)
    with pytest.raises(ValueError, match=r"invalid interval .*from 10ms to 1000 years"):
        scheduler.schedule(Recorder(virtual_clock), spec)
    assert str(scheduler.schedule(Recorder(virtual_clock), "every 10ms").trigger) == "every 10ms"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("schedule = every 0.0000001", ["FILE:4", "[job:report] schedule", "from 10ms"]),
        ("retries = 5000", ["FILE:5", "[job:report] retries", "0 to 1000"]),
        ("backoff = 100000000000000", ["FILE:5", "[job:report] backoff", "0 to 1d"]),
        (
            "start = 2027-06-01T00:00Z\nend = 2027-01-01T00:00Z",
            ["FILE:6", "[job:report] end", "must be after start"],
        ),
    ],
)
def test_config_files_name_the_file_line_and_key(
    tmp_path: Path, key: str, expected: list[str]
) -> None:
    schedule, _, policy = key.partition("\n") if key.startswith("schedule") else ("", "", key)
    text = "[job:report]\ntype = greet\nwho = Ada\n" + (
        f"{schedule}\n" if schedule else f"schedule = every 10s\n{policy}\n"
    )
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        config = load_config(path, environ={}, plugins=make_plugins())
        config.build_scheduler(store=MemoryStore())
    message = str(caught.value).replace(str(path), "FILE")
    for part in expected:
        assert part in message, message


def test_backoff_delay_is_finite_for_any_attempt() -> None:
    policy = RetryPolicy(retries=1000, backoff=1.0, max_backoff=300.0, backoff_jitter=0.1)
    for attempt in (1, 64, 1024, 1025, 5000, 10**9):
        delay = policy.delay(attempt, random.Random(1))
        assert math.isfinite(delay) and 0 <= delay <= 300.0


def test_a_retry_policy_answering_an_absurd_delay_still_gets_its_records(
    virtual_clock: VirtualClock,
) -> None:
    class Absurd(RetryPolicy):
        def delay(
            self, attempt: int, rng: random.Random, error: BaseException | None = None
        ) -> float:
            return 1e14  # three million years: past datetime's range

    task = Recorder(virtual_clock, name="flaky", fail_times=5)

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "at 2026-01-01T00:00:01+00:00", retries=Absurd(retries=3))
            await asyncio.sleep(5)
            assert scheduler.runs_in_flight == 1  # waiting for its retry, not stuck
        return scheduler

    scheduler = virtual_clock.run(main())
    record = scheduler.store.history("flaky")[-1]  # the first attempt (then the stop)
    assert record.outcome == sts.Outcome.FAILED and record.retry_at is not None
    assert (record.retry_at - record.finished_at).total_seconds() == 86400  # type: ignore[operator]

"""The virtual clock the timing tests stand on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from sts.testing import VirtualClock, require


def test_waits_take_no_real_time_and_timers_keep_their_order() -> None:
    clock = VirtualClock(start="2026-03-01T00:00:00+00:00")
    order: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        order.append((name, clock.monotonic()))

    async def main() -> None:
        await asyncio.gather(sleeper("week", 7 * 86400), sleeper("hour", 3600))

    began = time.monotonic()
    clock.run(main())
    assert time.monotonic() - began < 5  # a week in (much) less than real seconds
    assert [name for name, _ in order] == ["hour", "week"]
    assert clock.now() == datetime(2026, 3, 8, tzinfo=UTC)


def test_timeouts_use_virtual_time() -> None:
    clock = VirtualClock()

    async def main() -> float:
        began = clock.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(90):
                await asyncio.sleep(3600)
        return clock.monotonic() - began

    assert clock.run(main()) == pytest.approx(90)


def test_jump_moves_the_wall_clock_only() -> None:
    clock = VirtualClock()
    before_wall, before_monotonic = clock.now(), clock.monotonic()
    clock.jump(timedelta(hours=2))
    assert clock.now() - before_wall == timedelta(hours=2)
    assert clock.monotonic() == before_monotonic


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware start time"):
        VirtualClock(start=datetime(2026, 1, 1))


def test_autojump_threshold_lets_threads_finish_first() -> None:
    clock = VirtualClock(autojump_threshold=0.2)

    async def main() -> str:
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(None, time.sleep, 0.05)
        async with asyncio.timeout(1):  # one virtual second: would expire at once without it
            await work
        return "finished"

    assert clock.run(main()) == "finished"


def test_require_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no frobnicator"):
        require(False, "no frobnicator")


def test_require_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no frobnicator"):
        require(False, "no frobnicator")
    require(True, "present")  # no effect

"""The workloads of issue 6: lateness, burst, scale and idle.

Each takes a started-or-not contender and its ``Runs`` and returns flat, JSON-ready
figures. Times are wall-clock seconds since the epoch, so that a fire's lateness is
``actual start - nominal fire time`` whatever clock a scheduler waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from typing import Any

from .contenders import Contender, NamesJobs, Runs
from .measure import WakeupCounter, cpu_seconds, percentile, rss_bytes, sleep_until

#: Seconds of firing before the lateness window opens, so start-up is not measured.
WARM_UP = 1.0
#: How long after the window closes its last fires may still start before they count as
#: missed: a second, as long as the interval.
SETTLE = 1.0


def _setup_margin(jobs: int) -> float:
    # Time to add every job before the first one is due: generous, as the slowest
    # contender adds about 50 µs a job on a shared machine.
    return 0.5 + jobs * 150e-6


async def lateness(
    contender: Contender,
    runs: Runs,
    *,
    jobs: int,
    seconds: int,
    warm_up: float = WARM_UP,
    settle: float = SETTLE,
) -> dict[str, Any]:
    """``jobs`` interval jobs every second with a random phase; lateness over ``seconds``."""
    rng = random.Random(6)
    await contender.start()
    added_at = time.time()
    base = added_at + _setup_margin(jobs)
    for number in range(jobs):
        contender.add_interval(f"job-{number}", 1.0, base + rng.random())
    setup = time.time() - added_at
    window_open = base + warm_up
    window_close = window_open + seconds
    await sleep_until(window_open)
    cpu_before = cpu_seconds()
    await sleep_until(window_close)
    cpu_used = cpu_seconds() - cpu_before
    await sleep_until(window_close + settle)
    await contender.stop()
    late = sorted(
        actual - nominal
        for nominal, actual in zip(runs.nominal, runs.actual, strict=True)
        if window_open <= nominal < window_close
    )
    # Every job has exactly one grid point in each second of the window.
    expected = jobs * seconds
    return {
        "jobs": jobs,
        "seconds": seconds,
        "setup_overran": setup > base - added_at,
        "fires": len(late),
        "missed": max(0, expected - len(late)),
        "p50_ms": percentile(late, 0.50) * 1e3,
        "p99_ms": percentile(late, 0.99) * 1e3,
        "max_ms": (late[-1] if late else float("nan")) * 1e3,
        "cpu_s_per_1000": cpu_used / max(1, len(late)) * 1000,
    }


async def burst(contender: Contender, runs: Runs, *, jobs: int) -> dict[str, Any]:
    """``jobs`` one-shot jobs due at the same instant: fires per second, CPU per fire."""
    await contender.start()
    # How long adding takes here decides when the burst can be due.
    probe = 1000
    far = time.time() + 3600
    started = time.perf_counter()
    for number in range(probe):
        contender.add_once(f"probe-{number}", far)
    per_add = (time.perf_counter() - started) / probe
    for number in range(probe):
        contender.remove(f"probe-{number}")
    gc.collect()
    due = time.time() + 0.5 + 3 * jobs * per_add
    runs.expected = jobs
    for number in range(jobs):
        contender.add_once(f"job-{number}", due)
    setup_overran = time.time() > due
    await sleep_until(due - 0.01)
    cpu_before = cpu_seconds()
    # A contender that never fires them all is reported with its missed fires.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(runs.all_started.wait(), timeout=120 + jobs * 1e-3)
    cpu_used = cpu_seconds() - cpu_before
    await contender.stop()
    fired = len(runs.actual)
    spread = max(runs.actual) - due if runs.actual else float("nan")
    return {
        "jobs": jobs,
        "setup_overran": setup_overran,
        "fired": fired,
        "missed": jobs - fired,
        "fires_per_s": fired / spread if spread > 0 else float("nan"),
        "cpu_us_per_fire": cpu_used / max(1, fired) * 1e6,
        "first_ms": (min(runs.actual) - due) * 1e3 if runs.actual else float("nan"),
        "last_ms": spread * 1e3,
    }


async def scale(
    contender: Contender, runs: Runs, *, jobs: int, removals: int = 1000
) -> dict[str, Any]:
    """Add ``jobs`` hourly jobs that never fire here; time per add and remove, memory."""
    await contender.start()
    names = [f"job-{number}" for number in range(jobs)]
    gc.collect()
    rss_before = rss_bytes()
    started = time.perf_counter()
    cpu_before = cpu_seconds()
    for name in names:
        contender.add_interval(name, 3600.0, None)
    cpu_add = cpu_seconds() - cpu_before
    add_seconds = time.perf_counter() - started
    gc.collect()
    rss_after = rss_bytes()
    # Let the scheduler settle (APScheduler wakes once per add) before removing.
    await asyncio.sleep(0.2)
    victims = random.Random(6).sample(names, min(removals, jobs))
    started = time.perf_counter()
    for name in victims:
        contender.remove(name)
    remove_seconds = time.perf_counter() - started
    await asyncio.sleep(0.05)
    await contender.stop()
    return {
        "jobs": jobs,
        "add_s": add_seconds,
        "add_us": add_seconds / jobs * 1e6,
        "add_cpu_us": cpu_add / jobs * 1e6,
        "remove_us": remove_seconds / len(victims) * 1e6,
        "bytes_per_job": (rss_after - rss_before) / jobs,
        "fired": len(runs.actual),
    }


async def unnamed(contender: NamesJobs, runs: Runs, *, jobs: int, repeat: bool) -> dict[str, Any]:
    """Add ``jobs`` hourly jobs without names, the way users write them: a new task of one
    class each time, or one task scheduled again and again (``repeat``). Each gets a name
    made from its task's, so the cost per add shows whether naming grows with the count."""
    await contender.start()
    gc.collect()
    tenth = max(1, jobs // 10)
    started = time.perf_counter()
    for _ in range(jobs - tenth):
        contender.add_unnamed(repeat=repeat)
    last_started = time.perf_counter()
    for _ in range(tenth):
        contender.add_unnamed(repeat=repeat)
    finished = time.perf_counter()
    await contender.stop()
    return {
        "jobs": jobs,
        "add_s": finished - started,
        "add_us": (finished - started) / jobs * 1e6,
        "last_tenth_us": (finished - last_started) / tenth * 1e6,
        "fired": len(runs.actual),
    }


async def idle(contender: Contender, runs: Runs, *, jobs: int, seconds: float) -> dict[str, Any]:
    """``jobs`` jobs due in 60 s: CPU and event-loop wakeups per second while waiting."""
    rng = random.Random(6)
    await contender.start()
    due = time.time() + 60
    for number in range(jobs):
        contender.add_once(f"job-{number}", due + rng.random())
    await asyncio.sleep(0.5)
    counter = WakeupCounter(asyncio.get_running_loop())
    cpu_before = cpu_seconds()
    await asyncio.sleep(seconds)
    cpu_used = cpu_seconds() - cpu_before
    # The benchmark's own sleep is one wait; it is not the scheduler's.
    wakeups = max(0, counter.count - 1)
    counter.close()
    await contender.stop()
    return {
        "jobs": jobs,
        "seconds": seconds,
        "cpu_ms_per_s": cpu_used / seconds * 1e3,
        "wakeups_per_s": wakeups / seconds,
        "fired": len(runs.actual),
    }

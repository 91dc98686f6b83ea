"""etcd stopped for 10 s and started again while 100 jobs fire every second: no fire is
missed, the running configuration stays, the outage is logged once, and a change made
once etcd is back is applied."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from etcd_helpers import EtcdServer, job_keys, write_ini
from test_etcd_source import Results, load

#: About 20 s of real time: the full run has it, the per-plugin run of .ci/run skips it.
pytestmark = pytest.mark.slow

JOBS = 100


def test_etcd_down_for_ten_seconds_misses_no_fire(
    own_etcd: EtcdServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = "/sts/outage/"
    for number in range(JOBS):
        for key, value in job_keys(prefix, f"tick{number}", "every 1s").items():
            own_etcd.put(key, value)
    scheduler = load(write_ini(tmp_path, own_etcd, prefix))
    outcomes: Counter[str] = Counter()
    fires: dict[str, list[datetime]] = {}

    def count(event: str, **facts: Any) -> None:
        if event == "run_finished":
            record = facts["record"]
            outcomes[str(record.outcome)] += 1
            fires.setdefault(record.job, []).append(record.fire_time)

    scheduler.add_listener(count)
    caplog.set_level(logging.INFO, logger="sts")

    async def main() -> None:
        async with scheduler:
            results = Results(scheduler)
            await asyncio.sleep(2)
            await asyncio.to_thread(own_etcd.stop)
            await asyncio.sleep(10)
            await asyncio.to_thread(own_etcd.start)
            back = await results.next()  # reloaded once etcd answered again
            assert back.ok and back.trigger.endswith("changed (etcd answers again)")
            started = time.perf_counter()
            await asyncio.to_thread(own_etcd.put, f"{prefix}job/tick0/schedule", "every 2s")
            changed = await results.next()
            assert changed.ok and changed.changed == {"tick0": ["schedule"]}, changed
            print(f"\nchange after the restart applied in {time.perf_counter() - started:.3f}s")
            await asyncio.sleep(1)

    asyncio.run(main())
    assert outcomes["missed"] == 0 and outcomes["skipped"] == 0, outcomes
    assert set(outcomes) == {"succeeded"}
    for job in (f"tick{number}" for number in range(1, JOBS)):
        times = sorted(fires[job])
        gaps = {(later - earlier).total_seconds() for earlier, later in pairwise(times)}
        assert gaps == {1.0}, (job, gaps)  # every second, none skipped, none doubled
    unreachable = [r for r in caplog.records if "is unreachable" in r.getMessage()]
    answers = [r for r in caplog.records if "answers again after" in r.getMessage()]
    assert len(unreachable) == 1 and len(answers) == 1, [
        r.getMessage() for r in caplog.records if "etcd" in r.name
    ]

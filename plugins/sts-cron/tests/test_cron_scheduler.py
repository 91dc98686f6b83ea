"""sts-cron inside STS: the plugin, the scheduler on a virtual clock across daylight-saving
changes, config.ini and ``sts plan``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sts_cron import CronTrigger

import sts
from sts.testing import VirtualClock

DAY = 86400


class Recorder(sts.Task):
    """Writes down the fire time of each run."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name)
        self.fires: list[str] = []

    async def run(self) -> None:
        self.fires.append(sts.current_run().fire_time.astimezone(UTC).isoformat())


def utc(*texts: str) -> list[str]:
    return [datetime.fromisoformat(text).astimezone(UTC).isoformat() for text in texts]


def test_the_plugin_registers_the_cron_kind(sts_plugins: sts.Plugins) -> None:
    assert "cron" in sts_plugins.triggers
    assert sts_plugins.triggers.get("cron") == CronTrigger.from_spec
    made = sts_plugins.triggers.get("cron")(
        "0 3 * * *", timezone=ZoneInfo("Asia/Tokyo"), job_name="j", unknown_option=1
    )
    assert str(made) == "cron 0 3 * * *" and str(made.timezone) == "Asia/Tokyo"


def test_a_scheduler_fires_exactly_the_cronie_runs_across_the_spring_change() -> None:
    clock = VirtualClock(start="2026-03-28T00:00:00+01:00")
    fixed, elapsed = Recorder("fixed"), Recorder("elapsed")

    async def main() -> sts.Job:
        async with sts.TaskScheduler(clock=clock, timezone="Europe/Berlin") as scheduler:
            job = scheduler.schedule_cron(fixed, "30 2 * * *")
            scheduler.schedule_cron(elapsed, "*/20 2 * * *")
            await asyncio.sleep(3 * DAY)
        return job

    job = clock.run(main())
    assert fixed.fires == utc(
        "2026-03-28T02:30+01:00",
        "2026-03-29T03:00+02:00",  # 02:30 does not exist: once, when the gap ends
        "2026-03-30T02:30+02:00",
    )
    assert elapsed.fires == utc(
        "2026-03-28T02:00+01:00",
        "2026-03-28T02:20+01:00",
        "2026-03-28T02:40+01:00",
        # 29 March: no 02:xx, no fires
        "2026-03-30T02:00+02:00",
        "2026-03-30T02:20+02:00",
        "2026-03-30T02:40+02:00",
    )
    assert job.schedule == "cron 30 2 * * *"
    assert str(job.timezone) == "Europe/Berlin"


def test_a_scheduler_fires_exactly_the_cronie_runs_across_the_autumn_change() -> None:
    clock = VirtualClock(start="2026-10-31T12:00:00-04:00")
    fixed = Recorder("fixed")
    hourly_fires: list[datetime] = []

    async def main() -> None:
        # The job's zone wins over the scheduler's.
        async with sts.TaskScheduler(clock=clock, timezone="Europe/Berlin") as scheduler:
            scheduler.schedule_cron(fixed, "30 1 * * *", timezone="America/New_York")

            @scheduler.cron("0 * * * *", timezone="America/New_York")
            async def hourly() -> None:
                hourly_fires.append(sts.current_run().fire_time)

            await asyncio.sleep(DAY - 60)

    clock.run(main())
    assert fixed.fires == utc("2026-11-01T01:30-04:00")  # once, on the first pass
    # 23 real hours, 23 fires: 01:00 EDT and 01:00 EST both fire.
    assert [fire.astimezone(UTC).hour for fire in hourly_fires] == [*range(17, 24), *range(16)]
    local = [fire.astimezone(ZoneInfo("America/New_York")) for fire in hourly_fires]
    assert [hour.strftime("%H %Z") for hour in local[11:15]] == [
        "00 EDT",
        "01 EDT",
        "01 EST",
        "02 EST",
    ]


def test_an_invalid_expression_fails_when_scheduled() -> None:
    scheduler = sts.TaskScheduler(timezone="UTC")
    with pytest.raises(ValueError, match=r"minute \(field 1\) has 61, out of range"):
        scheduler.schedule_cron(Recorder("x"), "61 * * * *")
    with pytest.raises(ValueError, match=r"never occurs in month \(field 4\)"):
        scheduler.schedule(Recorder("y"), "cron * * 31 2 *")
    assert scheduler.jobs == []


def test_hashed_fields_hash_the_job_name() -> None:
    scheduler = sts.TaskScheduler(timezone="UTC")
    first = scheduler.schedule_cron(Recorder("a"), "H H * * *", name="backup")
    second = scheduler.schedule_cron(Recorder("b"), "H H * * *", name="report")
    again = CronTrigger("H H * * *", job_name="backup")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert first.trigger is not None and second.trigger is not None
    assert first.trigger.next_fire_time(now) == again.next_fire_time(now)
    assert first.trigger.next_fire_time(now) != second.trigger.next_fire_time(now)


CONFIG = """\
[scheduler]
timezone = Europe/Berlin

[job:nightly]
type = python
callable = os:getcwd
schedule = cron 30 2 * * *

[job:new-york]
type = python
callable = os:getcwd
schedule = cron */30 1 * * *
timezone = America/New_York
"""


def run_sts(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The real ``sts`` command of this environment, on the config in ``tmp_path``."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "XDG_STATE_HOME": str(tmp_path)}
    command = [str(Path(sys.executable).with_name("sts")), *arguments]
    command += ["--config", str(tmp_path / "sts.ini")]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_sts_plan_shows_cron_fires_in_local_time_and_utc(tmp_path: Path) -> None:
    (tmp_path / "sts.ini").write_text(CONFIG)
    result = run_sts(tmp_path, "plan", "--since", "2026-03-28T00:00", "--count", "3", "--json")
    assert result.returncode == 0, result.stderr
    plans = {plan["job"]: plan for plan in json.loads(result.stdout)}
    assert plans["nightly"]["schedule"] == "cron 30 2 * * *"
    assert plans["nightly"]["fires"] == [
        {"utc": "2026-03-28T01:30:00+00:00", "local": "2026-03-28T02:30:00+01:00"},
        {"utc": "2026-03-29T01:00:00+00:00", "local": "2026-03-29T03:00:00+02:00"},
        {"utc": "2026-03-30T00:30:00+00:00", "local": "2026-03-30T02:30:00+02:00"},
    ]
    assert plans["new-york"]["fires"][0]["local"] == "2026-03-28T01:00:00-04:00"


def test_a_bad_expression_in_config_ini_names_the_file_line_section_and_field(
    tmp_path: Path,
) -> None:
    (tmp_path / "sts.ini").write_text(CONFIG.replace("30 2 * * *", "30 2 * * MON-FUN"))
    result = run_sts(tmp_path, "plan")
    assert result.returncode != 0
    assert f"{tmp_path / 'sts.ini'}:7: [job:nightly] schedule: " in result.stderr
    assert "day of week (field 5) has the unknown name 'FUN'" in result.stderr

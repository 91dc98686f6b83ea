"""The benchmark's code paths, on tiny sizes: every contender through every workload.

This checks that the benchmark still runs (``python -m bench --quick`` does so in CI,
in subprocesses), not what it measures.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

# bench/ is a package of the repository, not of the installed distribution.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import markdown
from bench.worker import CONTENDERS, measure


def _measure(workload: str, contender: str, params: dict[str, Any], tmp_path: Path) -> Any:
    spec = {"workload": workload, "contender": contender, "params": params}
    return asyncio.run(measure(spec, tmp_path))


@pytest.mark.parametrize("contender", CONTENDERS)
def test_burst_fires_every_job_once(contender: str, tmp_path: Path) -> None:
    result = _measure("burst", contender, {"jobs": 50}, tmp_path)
    assert result["fired"] == 50
    assert result["missed"] == 0
    assert result["cpu_us_per_fire"] > 0


@pytest.mark.parametrize("contender", ["asyncio", "apscheduler", "sts"])
def test_scale_adds_and_removes_without_firing(contender: str, tmp_path: Path) -> None:
    result = _measure("scale", contender, {"jobs": 200, "removals": 20}, tmp_path)
    assert result["fired"] == 0
    assert result["add_us"] > 0
    assert result["remove_us"] > 0


@pytest.mark.parametrize("repeat", [False, True])
def test_unnamed_adds_name_every_job_without_firing(repeat: bool, tmp_path: Path) -> None:
    result = _measure("unnamed", "sts", {"jobs": 200, "repeat": repeat}, tmp_path)
    assert result["jobs"] == 200
    assert result["fired"] == 0
    assert result["add_us"] > 0 and result["last_tenth_us"] > 0


def test_lateness_counts_every_fire_of_the_window(tmp_path: Path) -> None:
    params = {"jobs": 20, "seconds": 1, "warm_up": 0.2, "settle": 0.2}
    result = _measure("lateness", "sts", params, tmp_path)
    assert result["fires"] == 20
    assert result["missed"] == 0
    assert 0 <= result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]


@pytest.mark.parametrize("contender", ["sts", "sts-email"])
def test_notify_measures_healthy_jobs_and_counts_mails(contender: str, tmp_path: Path) -> None:
    result = _measure("notify", contender, {"jobs": 10, "seconds": 2, "settle": 1.0}, tmp_path)
    assert result["fires"] == 20 and result["missed"] == 0
    assert 0 <= result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    # One notification per failing job in the one window of the run, grouped into few
    # mails; none without a notifier.
    assert result["notifications"] == (10 if contender == "sts-email" else 0)
    if contender == "sts-email":
        assert 1 <= result["mails"] < 10
    else:
        assert result["mails"] == 0


def test_idle_scheduler_does_not_wake_up(tmp_path: Path) -> None:
    result = _measure("idle", "sts", {"jobs": 20, "seconds": 0.3}, tmp_path)
    assert result["fired"] == 0
    assert result["wakeups_per_s"] == 0


def test_report_marks_a_missed_target() -> None:
    cases = [
        {
            "workload": "idle",
            "title": "t",
            "params": {"jobs": 1},
            "results": {
                "asyncio": {"cpu_ms_per_s": 0.1, "wakeups_per_s": 0.0},
                "sts": {"cpu_ms_per_s": 0.2, "wakeups_per_s": 2.0},
            },
        }
    ]
    text = markdown(cases)
    assert "0.200 (2x)" in text
    assert "| idle: no periodic wakeups | 2.00 / s | NO |" in text


@pytest.mark.parametrize("contender", ["httpx", "apscheduler", "sts"])
def test_webhook_calls_reach_the_local_server(contender: str, tmp_path: Path) -> None:
    params = {"jobs": 5, "seconds": 1, "warm_up": 1.0, "settle": 1.5}
    result = _measure("webhook", contender, params, tmp_path)
    assert result["calls_per_s"] == 5  # every call of the window got its 2xx
    assert result["failed"] == 0
    assert 0 <= result["p50_ms"] <= result["p99_ms"]
    assert result["cpu_us_per_call"] > 0


def test_report_checks_the_webhook_targets_against_bare_httpx() -> None:
    results = {
        "httpx": {"calls_per_s": 1000.0, "p99_ms": 2.0, "cpu_us_per_call": 100.0},
        "apscheduler": {"calls_per_s": 1000.0, "p99_ms": 5.0, "cpu_us_per_call": 200.0},
        "sts": {"calls_per_s": 1000.0, "p99_ms": 3.0, "cpu_us_per_call": 130.0},
    }
    case = {"workload": "webhook", "title": "t", "params": {"jobs": 1000}, "results": results}
    text = markdown([case])
    assert "| webhook: all 1,000 calls / s | 1,000.0 / s | yes |" in text
    assert "| webhook: p99 <= APScheduler's | 3.00 vs 5.00 ms | yes |" in text
    assert "| webhook: CPU / call <= 1.2x bare httpx | 1.30x | NO |" in text
    assert "130 (1.3x)" in text  # ratios against bare httpx, not bare asyncio

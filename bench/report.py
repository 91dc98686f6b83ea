"""The results as Markdown tables, every figure with its ratio to the bare-asyncio ceiling,
and the issue's targets checked against them."""

from __future__ import annotations

import math
from typing import Any

CEILING = "asyncio"
#: A workload whose floor is another contender than bare asyncio.
CEILINGS = {"webhook": "httpx", "replicas": "sts-1", "distributed": "celery"}

#: Per workload: (result key, column heading, decimals).
COLUMNS: dict[str, list[tuple[str, str, int]]] = {
    "lateness": [
        ("p50_ms", "p50 ms", 2),
        ("p99_ms", "p99 ms", 2),
        ("max_ms", "max ms", 1),
        ("missed", "missed", 0),
        ("cpu_s_per_1000", "CPU s / 1,000 fires", 3),
    ],
    "burst": [
        ("fires_per_s", "fires / s", 0),
        ("cpu_us_per_fire", "CPU µs / fire", 1),
        ("last_ms", "due to last ms", 0),
        ("missed", "missed", 0),
    ],
    "scale": [
        ("add_us", "µs / add", 1),
        ("add_s", "total add s", 2),
        ("remove_us", "µs / remove", 1),
        ("bytes_per_job", "bytes / job", 0),
    ],
    "unnamed": [
        ("add_us", "µs / add", 1),
        ("last_tenth_us", "µs / add, last tenth", 1),
        ("add_s", "total add s", 2),
    ],
    "idle": [("cpu_ms_per_s", "CPU ms / s", 3), ("wakeups_per_s", "wakeups / s", 2)],
    # Lateness of the healthy jobs; notifications per failing job per throttle window, and
    # the mails that carried them (grouped).
    "notify": [
        ("p50_ms", "healthy p50 ms", 2),
        ("p99_ms", "healthy p99 ms", 2),
        ("max_ms", "healthy max ms", 1),
        ("missed", "missed", 0),
        ("mails", "mails", 0),
        ("notifications", "notifications", 0),
        ("per_job_window", "notifications / job / window", 2),
        ("cpu_s", "CPU s", 2),
    ],
    "replicas": [
        ("fires_per_s", "fires / s", 1),
        ("p50_ms", "p50 ms", 2),
        ("p99_ms", "p99 ms", 2),
        ("duplicates", "run twice", 0),
        ("missed", "missed", 0),
        ("engine_us_per_fire", "engine CPU µs / fire / replica", 1),
        ("store_us_per_fire", "store CPU µs / fire / replica", 1),
        ("server_us_per_fire", "server CPU µs / fire", 1),
        ("commits_per_fire", "commits / fire", 2),
        ("claims_per_fire", "claims / fire", 2),
        ("claim_statements_per_fire", "claim statements / fire", 2),
    ],
    "distributed": [
        ("dispatched_per_s", "dispatched / s", 0),
        ("completed_per_s", "completed / s", 1),
        ("p50_ms", "start p50 ms", 1),
        ("p99_ms", "start p99 ms", 1),
        ("max_ms", "start max ms", 0),
        ("lost", "lost", 0),
        ("doubled", "doubled", 0),
        ("driver_cpu_ms_per_fire", "sender CPU ms / fire", 2),
        ("worker_cpu_ms_per_fire", "workers CPU ms / fire", 2),
        ("broker_cpu_ms_per_fire", "broker CPU ms / fire", 2),
        ("messages_per_fire", "fire messages / fire", 2),
    ],
    "webhook": [
        ("calls_per_s", "2xx calls / s", 1),
        ("p50_ms", "p50 ms", 2),
        ("p99_ms", "p99 ms", 2),
        ("failed", "not done", 0),
        ("cpu_us_per_call", "CPU µs / call", 0),
    ],
}


def _figure(value: Any, decimals: int) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "n/a"
    return f"{value:,.{decimals}f}"


def _ratio(value: Any, ceiling: Any) -> str:
    if not isinstance(value, int | float) or not isinstance(ceiling, int | float):
        return ""
    if ceiling == 0 or math.isnan(value) or math.isnan(ceiling):
        return ""
    return f" ({value / ceiling:.2g}x)"


def case_table(case: dict[str, Any]) -> str:
    """One case's Markdown table: a row per contender, ratios against the ceiling."""
    columns = COLUMNS[case["workload"]]
    results: dict[str, dict[str, Any]] = case["results"]
    floor = CEILINGS.get(case["workload"], CEILING)
    ceiling = results.get(floor, {})
    lines = [
        f"**{case['workload']}: {case['title']}**",
        "",
        "| contender | " + " | ".join(heading for _, heading, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for contender, result in results.items():
        if "error" in result:
            lines.append(f"| {contender} | failed: {result['error']} |" + " |" * (len(columns) - 1))
            continue
        cells = []
        for key, _, decimals in columns:
            ratio = "" if contender == floor else _ratio(result.get(key), ceiling.get(key))
            cells.append(_figure(result.get(key), decimals) + ratio)
        lines.append(f"| {contender} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _find(cases: list[dict[str, Any]], workload: str, **params: Any) -> dict[str, Any] | None:
    for case in cases:
        if case["workload"] == workload and all(
            case["params"].get(key) == value for key, value in params.items()
        ):
            results: dict[str, Any] = case["results"]
            return results
    return None


def _get(results: dict[str, Any] | None, contender: str, key: str) -> float:
    value = (results or {}).get(contender, {}).get(key)
    return float(value) if isinstance(value, int | float) else math.nan


def targets(cases: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """The issue's targets that this run's sizes allow checking: (target, measured, met)."""
    checks: list[tuple[str, str, bool]] = []
    for case in cases:
        results = case["results"]
        jobs = case["params"].get("jobs")
        if case["workload"] == "scale":
            add, floor = _get(results, "sts", "add_us"), _get(results, CEILING, "add_us")
            checks.append(
                (f"add <= 2.5x ceiling ({jobs:,} jobs)", f"{add / floor:.2f}x", add <= 2.5 * floor)
            )
            remove = _get(results, "sts", "remove_us")
            checks.append((f"remove <= 5 µs ({jobs:,} jobs)", f"{remove:.1f} µs", remove <= 5))
            memory = _get(results, "sts", "bytes_per_job")
            floor = _get(results, CEILING, "bytes_per_job")
            checks.append(
                (
                    f"memory <= 1.6x ceiling ({jobs:,} jobs)",
                    f"{memory / floor:.2f}x",
                    memory <= 1.6 * floor,
                )
            )
            if jobs == 1_000_000:
                total = _get(results, "sts", "add_s")
                checks.append(("1,000,000 adds < 15 s", f"{total:.1f} s", total < 15))
        elif case["workload"] == "unnamed":
            # The cost per add must not grow with the count: against the smallest size of
            # the same style (3x leaves room for a busy machine; a search from -2 upward
            # costs 10x more at ten times the jobs).
            repeat = case["params"].get("repeat")
            sizes = [
                other["params"]["jobs"]
                for other in cases
                if other["workload"] == "unnamed" and other["params"].get("repeat") == repeat
            ]
            smallest = min(sizes)
            if jobs == smallest:
                continue
            base = _get(_find(cases, "unnamed", jobs=smallest, repeat=repeat), "sts", "add_us")
            add = _get(results, "sts", "add_us")
            what = "one task again" if repeat else "tasks of one class"
            checks.append(
                (
                    f"unnamed add at {jobs:,} <= 3x at {smallest:,} ({what})",
                    f"{add / base:.2f}x",
                    add <= 3 * base,
                )
            )
        elif case["workload"] == "burst":
            rate, peer = _get(results, "sts", "fires_per_s"), _get(
                results, "apscheduler", "fires_per_s"
            )
            checks.append(
                ("burst >= 5x APScheduler fires/s", f"{rate / peer:.2f}x", rate >= 5 * peer)
            )
            cost = _get(results, "sts", "cpu_us_per_fire")
            checks.append(("burst <= 15 µs CPU / fire", f"{cost:.1f} µs", cost <= 15))
            rate = _get(results, "sts-sqlite", "fires_per_s")
            checks.append(
                (
                    "SQLite burst >= 2x APScheduler fires/s",
                    f"{rate / peer:.2f}x",
                    rate >= 2 * peer,
                )
            )
        elif case["workload"] == "lateness":
            p99, peer = _get(results, "sts", "p99_ms"), _get(results, "apscheduler", "p99_ms")
            missed = _get(results, "sts", "missed")
            checks.append(
                (
                    f"p99 <= APScheduler's, no missed fire ({jobs:,} jobs)",
                    f"{p99:.2f} vs {peer:.2f} ms, {missed:.0f} missed",
                    p99 <= peer and missed == 0,
                )
            )
            if jobs == 10_000:
                p99 = _get(results, "sts-sqlite", "p99_ms")
                checks.append(("SQLite p99 < 10 ms (10,000 jobs)", f"{p99:.2f} ms", p99 < 10))
        elif case["workload"] == "notify":
            p99, plain = _get(results, "sts-email", "p99_ms"), _get(results, "sts", "p99_ms")
            checks.append(
                (
                    f"healthy p99 with email: notifier within noise of none ({jobs:,} failing)",
                    f"{p99:.2f} vs {plain:.2f} ms",
                    p99 <= 1.5 * plain + 1.0,
                )
            )
            rate = _get(results, "sts-email", "per_job_window")
            # A failure that races the pause at the window's end may add one.
            checks.append(
                (
                    "one notification per failing job per window",
                    f"{rate:.3f}",
                    0.99 <= rate <= 1.01,
                )
            )
        elif case["workload"] == "webhook":
            rate = _get(results, "sts", "calls_per_s")
            checks.append(
                (
                    f"webhook: all {jobs:,} calls / s",
                    f"{rate:,.1f} / s",
                    rate >= 0.999 * (jobs or 0),
                )
            )
            p99, peer = _get(results, "sts", "p99_ms"), _get(results, "apscheduler", "p99_ms")
            checks.append(
                ("webhook: p99 <= APScheduler's", f"{p99:.2f} vs {peer:.2f} ms", p99 <= peer)
            )
            cost, floor = _get(results, "sts", "cpu_us_per_call"), _get(
                results, "httpx", "cpu_us_per_call"
            )
            checks.append(
                (
                    "webhook: CPU / call <= 1.2x bare httpx",
                    f"{cost / floor:.2f}x",
                    cost <= 1.2 * floor,
                )
            )
        elif case["workload"] == "replicas":
            twice = sum(_get(results, name, "duplicates") for name in results)
            checks.append((f"replicas {jobs:,}: no fire run twice", f"{twice:.0f}", twice == 0))
            if jobs == 10_000 and "apscheduler4-2" in results:
                rate, peer = _get(results, "sts-2", "fires_per_s"), _get(
                    results, "apscheduler4-2", "fires_per_s"
                )
                checks.append(
                    (
                        "replicas 10,000: 2 STS processes >= 3x 2 APScheduler 4's fires / s",
                        f"{rate:.0f} vs {peer:.0f}",
                        rate >= 3 * peer,
                    )
                )
            if jobs == 1000 and case["params"].get("spread", True):
                p99, missed = _get(results, "sts-3", "p99_ms"), _get(results, "sts-3", "missed")
                checks.append(
                    (
                        "replicas: 3 replicas, 1,000 jobs: 0 missed, p99 < 50 ms",
                        f"{missed:.0f} missed, p99 {p99:.1f} ms",
                        missed == 0 and p99 < 50,
                    )
                )
        elif case["workload"] == "distributed":
            rate, peer = _get(results, "sts", "completed_per_s"), _get(
                results, "celery", "completed_per_s"
            )
            checks.append(
                (
                    f"distributed: completed / s >= Celery's ({jobs} fires / s)",
                    f"{rate:.1f} vs {peer:.1f}",
                    rate >= peer,
                )
            )
            p99, peer = _get(results, "sts", "p99_ms"), _get(results, "celery", "p99_ms")
            checks.append(
                (
                    f"distributed: start p99 <= Celery's ({jobs} fires / s)",
                    f"{p99:.1f} vs {peer:.1f} ms",
                    p99 <= peer,
                )
            )
            lost = _get(results, "sts", "lost") + _get(results, "sts", "doubled")
            checks.append(("distributed: 0 lost, 0 doubled", f"{lost:.0f}", lost == 0))
        elif case["workload"] == "idle":
            wakeups = _get(results, "sts", "wakeups_per_s")
            checks.append(("idle: no periodic wakeups", f"{wakeups:.2f} / s", wakeups == 0))
    return checks


def markdown(cases: list[dict[str, Any]]) -> str:
    """Every case's table, then the targets."""
    parts = [case_table(case) for case in cases]
    rows = ["| target | measured | met |", "|---|---|---|"]
    rows += [
        f"| {name} | {measured} | {'yes' if met else 'NO'} |"
        for name, measured, met in targets(cases)
    ]
    parts.append("**targets**\n\n" + "\n".join(rows))
    return "\n\n".join(parts) + "\n"

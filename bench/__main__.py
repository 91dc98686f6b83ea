"""``python -m bench [--quick] [--only WORKLOAD] [--out DIR]``: run every case (or those of
one workload), print the tables.

Each measurement is a subprocess (``python -m bench.worker``); the contenders of a case
run one after the other, in an order that rotates from case to case, so no contender
always goes first on a machine that warms up or gets busier.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .plan import Case, full_plan, quick_plan
from .report import markdown

#: A measurement that takes longer than this is reported as failed, not waited for.
TIMEOUT = 900


def machine() -> dict[str, Any]:
    """Where the numbers come from."""
    model = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def run_one(case: Case, contender: str) -> dict[str, Any]:
    """One measurement in its own process."""
    spec = json.dumps({"workload": case.workload, "contender": contender, "params": case.params})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.worker", spec],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"took longer than {TIMEOUT} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {last}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(plan: list[Case]) -> list[dict[str, Any]]:
    """Every case of ``plan``, contenders rotating; progress on stderr."""
    cases = []
    for number, case in enumerate(plan):
        shift = number % len(case.contenders)
        order = case.contenders[shift:] + case.contenders[:shift]
        results: dict[str, dict[str, Any]] = {}
        for contender in order:
            started = time.monotonic()
            results[contender] = run_one(case, contender)
            print(
                f"  {case.workload} {case.title}: {contender} "
                f"({time.monotonic() - started:.1f} s)",
                file=sys.stderr,
            )
        ordered = {name: results[name] for name in case.contenders}
        cases.append(
            {
                "workload": case.workload,
                "title": case.title,
                "params": case.params,
                "order": list(order),
                "results": ordered,
            }
        )
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="STS, APScheduler 3.11 and bare asyncio, side by side.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (the CI smoke test)")
    parser.add_argument(
        "--out", type=Path, help="write results.json, table.md and plot.png into this directory"
    )
    parser.add_argument(
        "--only",
        metavar="WORKLOAD",
        help="run only the cases of one workload (lateness, burst, scale, idle, unnamed, "
        "notify, webhook, distributed)",
    )
    options = parser.parse_args(argv)
    started = time.monotonic()
    plan = quick_plan() if options.quick else full_plan()
    if options.only:
        plan = [case for case in plan if case.workload == options.only]
        if not plan:
            parser.error(f"no case of workload {options.only!r} in this plan")
    cases = run(plan)
    table = markdown(cases)
    print(table)
    elapsed = time.monotonic() - started
    print(f"{len(cases)} cases in {elapsed:.0f} s on {machine()}", file=sys.stderr)
    if options.out is not None:
        from .plot import plot

        options.out.mkdir(parents=True, exist_ok=True)
        report = {"machine": machine(), "seconds": elapsed, "cases": cases}
        (options.out / "results.json").write_text(json.dumps(report, indent=1))
        (options.out / "table.md").write_text(table)
        plot(cases, options.out / "plot.png")
    failed = [
        f"{case['workload']} {name}"
        for case in cases
        for name, result in case["results"].items()
        if "error" in result
    ]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The plot of ``docs/performance.md``: lateness percentiles and CPU per fire."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a CI machine
import matplotlib.pyplot as plt


def plot(cases: list[dict[str, Any]], path: Path) -> None:
    """Write a PNG: lateness p50/p99 per contender and size, and CPU µs per fire."""
    lateness = [case for case in cases if case["workload"] == "lateness"]
    firing = [case for case in cases if case["workload"] in ("lateness", "burst")]
    contenders = list(lateness[0]["results"]) if lateness else []
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / max(1, len(contenders))
    labels = []
    for group, case in enumerate(lateness):
        labels.append(f"{case['params']['jobs']:,} jobs")
        for index, contender in enumerate(contenders):
            result = case["results"].get(contender, {})
            x = group + index * width
            left.bar(x, result.get("p99_ms", 0), width, color=f"C{index}", alpha=0.45)
            left.bar(
                x,
                result.get("p50_ms", 0),
                width,
                color=f"C{index}",
                label=contender if group == 0 else None,
            )
    left.set_xticks([group + 0.4 - width / 2 for group in range(len(lateness))], labels)
    left.set_ylabel("lateness ms (solid p50, pale p99)")
    left.set_title("Lateness: actual start - nominal fire")
    left.legend(fontsize=8)
    labels = []
    for group, case in enumerate(firing):
        labels.append(f"{case['workload']} {case['params']['jobs']:,}")
        for index, contender in enumerate(contenders):
            result = case["results"].get(contender, {})
            if case["workload"] == "burst":
                cost = result.get("cpu_us_per_fire", 0)
            else:
                cost = result.get("cpu_s_per_1000", 0) * 1000
            right.bar(group + index * width, cost, width, color=f"C{index}")
    right.set_xticks([group + 0.4 - width / 2 for group in range(len(firing))], labels)
    right.set_ylabel("CPU µs per fire")
    right.set_title("Cost per fire (run record included)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)

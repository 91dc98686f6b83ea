"""How far two runs' numbers moved: ``python -m bench.compare A/results.json B/results.json``."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from .report import COLUMNS


def _change(first: Any, second: Any) -> str:
    if not isinstance(first, int | float) or not isinstance(second, int | float):
        return "n/a"
    if first == second:
        return "0%"
    if first == 0 or math.isnan(first) or math.isnan(second):
        return f"{first:g} -> {second:g}"
    return f"{(second - first) / abs(first) * 100:+.0f}%"


def moved(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> str:
    """A Markdown table per case: each figure's change from the first run to the second."""
    parts = []
    for one, two in zip(first, second, strict=True):
        columns = COLUMNS[one["workload"]]
        lines = [
            f"**{one['workload']}: {one['title']}** (second run vs first)",
            "",
            "| contender | " + " | ".join(heading for _, heading, _ in columns) + " |",
            "|---|" + "---:|" * len(columns),
        ]
        for contender, result in one["results"].items():
            other = two["results"].get(contender, {})
            cells = [_change(result.get(key), other.get(key)) for key, _, _ in columns]
            lines.append(f"| {contender} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.compare FIRST/results.json SECOND/results.json")
        return 2
    first, second = (json.loads(Path(path).read_text())["cases"] for path in argv)
    print(moved(first, second))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

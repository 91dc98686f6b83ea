"""Start-up times of whole commands: ``python -m bench.startup [--runs N]``.

Prints a Markdown table (median, best, worst wall milliseconds) for the bare interpreter,
``import sts`` and ``sts --help``, each run as a fresh process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import sts'": [sys.executable, "-c", "import sts"],
    "sts --help": [str(Path(sys.executable).parent / "sts"), "--help"],
}


def wall_ms(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=30, help="runs of each command")
    args = parser.parse_args(argv)
    print("| command | median ms | best ms | worst ms |")
    print("|---|---:|---:|---:|")
    for label, command in COMMANDS.items():
        times = wall_ms(command, args.runs)
        print(
            f"| `{label}` | {statistics.median(times):.0f} | {min(times):.0f} | {max(times):.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

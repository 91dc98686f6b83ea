"""Shell completion of ``sts`` (argcomplete): commands, options, and the config's job
names; loaded only while completing, so ``sts --help`` stays fast
(tests/test_cli_entry.py::test_help_loads_nothing_heavy)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_helpers import STS, sts_environment

CONFIG = """
[job:backup]
type = python
callable = os:getcwd
schedule = every 1h

[job:build]
type = python
callable = os:getcwd
schedule = every 1h

[job:report]
type = python
callable = os:getcwd
schedule = every 1h
"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("sts hist", ["history"]),
        ("sts history --li", ["--limit"]),
        ("sts trigger b", ["backup", "build"]),
        ("sts plan --count 3 r", ["report"]),
        ("sts --na", ["--name"]),
    ],
)
def test_completion_offers_commands_options_and_jobs(
    tmp_path: Path, line: str, expected: list[str]
) -> None:
    with sts_environment(tmp_path) as sts:
        sts.write("sts.ini", CONFIG)
        out = tmp_path / "completions.txt"
        env = {
            **sts.env,
            "_ARGCOMPLETE": "1",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
        }
        result = subprocess.run([str(STS)], cwd=sts.root, env=env, capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert sorted(out.read_text().replace("\013", " ").split()) == expected

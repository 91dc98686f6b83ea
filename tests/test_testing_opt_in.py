"""``sts.testing`` is opt-in: installing STS changes no other project's test session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FOREIGN_TESTS = """
import logging


def test_1_the_project_routes_the_sts_logger_its_own_way():
    logging.getLogger("sts").propagate = False


def test_2_its_logging_set_up_is_still_there():
    assert logging.getLogger("sts").propagate is False


def test_3_no_sts_fixture_is_active(request):
    fixtures = set(request._fixturemanager._arg2fixturedefs)
    assert not fixtures & {"virtual_clock", "sts_plugins", "register_plugin", "_sts_process_state"}
"""


def run_foreign_session(project: Path, *options: str) -> str:
    """``python -m pytest`` in ``project``, a directory that knows nothing of STS."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            *options,
        ],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout.strip().splitlines()[-1]


def test_a_foreign_session_has_no_sts_fixture_and_keeps_its_logging_set_up(tmp_path: Path) -> None:
    (tmp_path / "test_foreign.py").write_text(FOREIGN_TESTS)
    assert run_foreign_session(tmp_path).startswith("3 passed")


def test_opting_in_with_p_enables_the_fixtures(tmp_path: Path) -> None:
    # The same tests with the plugin on: its autouse fixture resets the sts logger after
    # each test, and its fixtures exist. This is what the first test would see if
    # installing STS enabled the plugin.
    (tmp_path / "test_foreign.py").write_text(FOREIGN_TESTS)
    summary = run_foreign_session(tmp_path, "-p", "sts.testing")
    assert summary.startswith("2 failed, 1 passed"), summary

"""The machine's time zone, as containers and users set it: ``TZ`` as a zone file path, a
POSIX TZ string, and a copied (not linked) ``/etc/localtime``; and a warning, at start and
in ``sts config``, when no zone can be determined. Each case is a real process with a
real environment, since the zone is found once a process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import sts_environment, wait_for

from sts.testing import require

#: Prints the default zone of a new scheduler: its name, its offsets in January and July,
#: and the problem found, as JSON.
PROBE = """
import json
from datetime import datetime
import sts
from sts_core.timezones import local_zone
zone = sts.TaskScheduler().timezone
print(json.dumps({
    "name": local_zone().name,
    "offsets": [datetime(2026, month, 15, 12, tzinfo=zone).utcoffset().total_seconds()
                for month in (1, 7)],
    "problem": local_zone().problem,
}))
"""
BERLIN_OFFSETS = [3600.0, 7200.0]
ZONEINFO = Path("/usr/share/zoneinfo")


def probe(env: dict[str, str], *, wrapper: list[str] | None = None) -> dict[str, object]:
    command = [*(wrapper or []), sys.executable, "-c", PROBE]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def environment(**changes: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "TZ"}
    env.update({key: value for key, value in changes.items() if value is not None})
    return env


@pytest.mark.parametrize(
    ("tz", "name"),
    [
        (":/usr/share/zoneinfo/Europe/Berlin", "Europe/Berlin"),
        ("/usr/share/zoneinfo/Europe/Berlin", "Europe/Berlin"),
        ("CET-1CEST,M3.5.0,M10.5.0/3", "CET-1CEST,M3.5.0,M10.5.0/3"),
        ("Europe/Berlin", "Europe/Berlin"),
    ],
)
def test_tz_is_honoured_with_its_daylight_saving_rules(tz: str, name: str) -> None:
    require((ZONEINFO / "Europe/Berlin").exists(), "the system has no zone database")
    result = probe(environment(TZ=tz))
    assert result == {"name": name, "offsets": BERLIN_OFFSETS, "problem": None}


def test_a_posix_tz_string_without_daylight_saving() -> None:
    assert probe(environment(TZ="<+0530>-5:30"))["offsets"] == [19800.0, 19800.0]


def _in_own_etc(localtime: Path | None) -> list[str]:
    """A command prefix that runs the probe in a mount namespace whose /etc is empty but
    for ``localtime`` copied in (a regular file, as container images ship it)."""
    copy = f"cp {localtime} /etc/localtime && " if localtime else ""
    return ["unshare", "--mount", "sh", "-c", f'mount -t tmpfs tmpfs /etc && {copy}exec "$@"', "-"]


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount -t tmpfs tmpfs /etc"],
        capture_output=True,
        timeout=30,
    )
    return done.returncode == 0


def test_a_copied_etc_localtime_is_honoured() -> None:
    require(_can_unshare(), "needs root and unshare to give a process its own /etc")
    result = probe(environment(), wrapper=_in_own_etc(ZONEINFO / "Europe/Berlin"))
    assert result == {"name": "local", "offsets": BERLIN_OFFSETS, "problem": None}


def test_no_zone_configuration_at_all_is_utc_with_a_warning() -> None:
    require(_can_unshare(), "needs root and unshare to give a process its own /etc")
    result = probe(environment(), wrapper=_in_own_etc(None))
    assert result["offsets"] == [0.0, 0.0]
    assert "time zone could not be determined: using UTC" in str(result["problem"])


def test_an_unusable_tz_is_warned_about_in_sts_config_and_at_start(tmp_path: Path) -> None:
    with sts_environment(tmp_path) as sts:
        sts.env["TZ"] = "Nowhere/Land"
        sts.write("app.py", "def hello():\n    pass\n")
        sts.write(
            "sts.ini",
            "[scheduler]\nname = zoneless\n[job:hello]\ntype = python\n"
            "callable = app:hello\nschedule = every 1h\n",
        )
        shown = sts.run("config")
        assert shown.returncode == 0, shown.stderr
        assert "# warning: the machine's time zone could not be determined" in shown.stdout
        assert "TZ='Nowhere/Land'" in shown.stdout and "using UTC" in shown.stdout

        process = sts.start("run")

        wait_for(sts.socket("zoneless").exists, what="the control socket", process=process)
        # Answered over the socket: the loop runs, and its SIGTERM handler is in place.
        assert sts.run("jobs").returncode == 0
        code, _, err = sts.stop(process)
        assert code == 0, err
        assert "WARNING" in err and "time zone could not be determined" in err

        sts.env["TZ"] = "Europe/Berlin"
        shown = sts.run("config")
        assert "# warning" not in shown.stdout

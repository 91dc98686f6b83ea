"""Notifications in config files: ``[notify]`` defaults, the section named after a scheme
and a job's ``<scheme>.<option>`` keys, and the errors that name file, line and key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from config_helpers import make_plugins, write_config

import sts
from sts.testing import VirtualClock
from sts_core.service.config import ConfigError, load_config
from sts_core.store import MemoryStore


class Pager:
    """A notifier scheme ``pager:`` with typed options, as a plugin would write one."""

    made: list[tuple[str, dict[str, Any]]] = []
    sent: list[sts.NotificationEvent] = []

    def __init__(
        self, target: str, *, level: int = 1, urgent: bool = False, pause: timedelta | None = None
    ) -> None:
        if not target.isdigit():
            raise ValueError(f"a pager number has digits only, not {target!r}")
        Pager.made.append((target, {"level": level, "urgent": urgent, "pause": pause}))

    async def notify(self, event: sts.NotificationEvent) -> None:
        Pager.sent.append(event)


class PagerPlugin:
    @sts.hookimpl
    def sts_register_notifiers(self, register: Callable[..., None]) -> None:
        register("pager", Pager)


@pytest.fixture(autouse=True)
def _fresh_pager() -> None:
    Pager.made = []
    Pager.sent = []


def load(tmp_path: Path, text: str) -> Any:
    return load_config(write_config(tmp_path, text), plugins=make_plugins(PagerPlugin()))


def test_notify_defaults_scheme_section_and_job_overrides(
    tmp_path: Path, virtual_clock: VirtualClock
) -> None:
    config = load(
        tmp_path,
        """
[notify]
notify = pager:100
notify_interval = 10m

[pager]
level = 3

[job:backup]
type = greet
schedule = every 1m
who = Ada
fail = yes
pager.urgent = yes

[job:quiet]
type = greet
schedule = every 1m
who = Bob
fail = yes
notify = none

[job:mine]
type = greet
schedule = every 1m
who = Cy
fail = yes
notify = pager:200
notify_on = failure
""",
    )
    scheduler = config.build_scheduler(clock=virtual_clock, store=MemoryStore())
    backup = scheduler.get_job("backup").policy.notify
    assert backup.channels == ("pager:100",) and backup.interval == 600
    assert backup.options_for("pager") == {"level": 3, "urgent": True}
    assert scheduler.get_job("quiet").policy.notify.channels == ()
    mine = scheduler.get_job("mine").policy.notify
    assert mine.channels == ("pager:200",) and mine.on == {"failure"} and mine.interval == 600

    async def main() -> None:
        async with scheduler:
            await asyncio.sleep(60 * 25 + 1)  # 25 failures each

    virtual_clock.run(main())
    assert sorted((event.job, event.channel) for event in Pager.sent) == [
        ("backup", "pager:100"),
        ("backup", "pager:100"),
        ("backup", "pager:100"),
        ("mine", "pager:200"),
        ("mine", "pager:200"),
        ("mine", "pager:200"),
    ]
    assert ("100", {"level": 3, "urgent": True, "pause": None}) in Pager.made


def test_an_unknown_scheme_is_a_config_error_naming_installed_ones_and_the_plugin(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(
            tmp_path,
            """
[job:backup]
type = greet
schedule = every 1m
who = Ada
notify = pager:1, email:ops@example.org
""",
        ).jobs()
    message = str(raised.value)
    assert "sts.ini:6: [job:backup] notify: no notifier scheme 'email' is installed" in message
    assert "installed: pager" in message and "Install the plugin 'sts-email'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("notify = pager:abc\n", ["sts.ini:6: [job:backup] notify", "digits only, not 'abc'"]),
        ("notify = pager\n", ["sts.ini:6: [job:backup] notify", "expected <scheme>:<target>"]),
        (
            "notify = pager:1\nnotify_on = failure, never\n",
            ["sts.ini:7: [job:backup] notify_on", "invalid notify_on 'never'"],
        ),
        (
            "notify = pager:1\npager.level = high\n",
            ["sts.ini:7: [job:backup] pager.level", "expected a whole number"],
        ),
        (
            "notify = pager:1\npager.colour = red\n",
            ["sts.ini:7: [job:backup] pager.colour", "unknown option", "level (a whole number)"],
        ),
        (
            "pager.level = 2\n",
            ["sts.ini:6: [job:backup] pager.level", "no channel of the job's notify uses it"],
        ),
        (
            "notify = pager:1\n\n[pager]\nlevel = x\n",
            ["sts.ini:9: [pager] level", "expected a whole number"],
        ),
        (
            "\n[pager]\ncolour = red\n",
            ["sts.ini:8: [pager] colour", "unknown option for [pager]: expected one of level"],
        ),
        (
            "\n[notify]\nnotify_interval = sometimes\n",
            ["sts.ini:8: [notify] notify_interval", "invalid value 'sometimes'"],
        ),
        ("\n[paper]\nlevel = 2\n", ["[paper]", "unknown section"]),
    ],
)
def test_bad_notification_settings_name_file_line_and_key(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(
            tmp_path,
            "\n[job:backup]\ntype = greet\nschedule = every 1m\nwho = Ada\n" + text,
        ).jobs()
    message = str(raised.value)
    for part in expected:
        assert part.replace("sts.ini", str(tmp_path / "sts.ini")) in message, message


def test_a_task_type_section_gives_defaults_to_its_jobs(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
[greet]
times = 4
loud = yes

[job:a]
type = greet
schedule = every 1m
who = Ada

[job:b]
type = greet
schedule = every 1m
who = Bob
times = 2
""",
    )
    a, b = (spec.task for spec in config.jobs())
    assert (a.times, a.loud) == (4, True)  # type: ignore[attr-defined]
    assert (b.times, b.loud) == (2, True)  # type: ignore[attr-defined]

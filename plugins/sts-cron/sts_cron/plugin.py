"""The plugin's hook implementations."""

from __future__ import annotations

from collections.abc import Callable

import sts

from .trigger import CronTrigger


@sts.hookimpl
def sts_register_triggers(register: Callable[..., None]) -> None:
    register("cron", CronTrigger.from_spec)

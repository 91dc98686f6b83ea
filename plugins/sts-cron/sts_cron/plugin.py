"""The plugin's hook implementations (imported when STS loads its plugins, so light)."""

from __future__ import annotations

import sts


@sts.hookimpl
def sts_register_triggers(register: sts.RegisterTrigger) -> None:
    from .trigger import CronTrigger  # croniter is imported when a trigger is needed

    register("cron", CronTrigger.from_spec)

"""sts-cron: cron triggers for STS that are right across time zones and daylight saving.

Installing the distribution registers the trigger kind ``cron`` (entry point group
``sts``), so ``scheduler.schedule_cron(task, "0 3 * * *")``, ``@scheduler.cron(...)`` and
``schedule = cron 0 3 * * *`` in ``config.ini`` work. See ``docs/cron.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .plugin import sts_register_triggers

if TYPE_CHECKING:
    from .expression import CronExpression
    from .trigger import CronTrigger

__all__ = ["CronExpression", "CronTrigger", "sts_register_triggers"]


def __getattr__(name: str) -> Any:
    # Imported on use: loading the plugin (as `sts --help` does) must not import croniter.
    if name == "CronExpression":
        from .expression import CronExpression

        return CronExpression
    if name == "CronTrigger":
        from .trigger import CronTrigger

        return CronTrigger
    raise AttributeError(f"module 'sts_cron' has no attribute {name!r}")

"""sts-cron: cron triggers for STS that are right across time zones and daylight saving.

Installing the distribution registers the trigger kind ``cron`` (entry point group
``sts``), so ``scheduler.schedule_cron(task, "0 3 * * *")``, ``@scheduler.cron(...)`` and
``schedule = cron 0 3 * * *`` in ``config.ini`` work. See ``docs/cron.md``.
"""

from __future__ import annotations

from .expression import CronExpression
from .plugin import sts_register_triggers
from .trigger import CronTrigger

__all__ = ["CronExpression", "CronTrigger", "sts_register_triggers"]

"""sts-cron: cron triggers for STS that are right across time zones and daylight saving.

Installing the distribution registers the trigger kind ``cron`` (entry point group
``sts``), so ``scheduler.schedule_cron(task, "0 3 * * *")``, ``@scheduler.cron(...)`` and
``schedule = cron 0 3 * * *`` in ``config.ini`` work. See ``docs/cron.md``.
"""

import typing

import sts

from .plugin import sts_register_triggers as sts_register_triggers

if typing.TYPE_CHECKING:
    from .expression import CronExpression as CronExpression
    from .trigger import CronTrigger as CronTrigger

#: Imported on use: loading the plugin (as `sts --help` does) must not import croniter.
_API = {"CronExpression": ".expression", "CronTrigger": ".trigger"}

__all__, __getattr__, __dir__ = sts.lazy_exports(__name__, _API, eager=["sts_register_triggers"])
del typing

"""sts-webhook: HTTP calls as STS tasks (signed, retried correctly, never twice by accident),
and webhook/Slack notifications.

Registers the task type ``webhook`` (``type = webhook`` in ``config.ini``; from Python, use
:class:`WebhookTask`) and the notifier scheme ``webhook:`` (``notify = webhook:https://...``,
:class:`WebhookNotifier`). The scheduler lifecycle hooks give each scheduler one pooled httpx
client, closed when it stops (see :mod:`sts_webhook.clients`).
"""

from __future__ import annotations

import sys
import typing

import sts

if typing.TYPE_CHECKING:
    from .destinations import DestinationRefused as DestinationRefused
    from .errors import WebhookRefused as WebhookRefused
    from .errors import WebhookRejected as WebhookRejected
    from .errors import WebhookServerError as WebhookServerError
    from .errors import WebhookUnreachable as WebhookUnreachable
    from .notifier import WebhookNotifier as WebhookNotifier
    from .sender import WebhookResult as WebhookResult
    from .task import WebhookTask as WebhookTask

# Imported on use: loading the plugin (as `sts --help` does) must not import httpx.
_API = {
    "DestinationRefused": ".destinations",
    "WebhookRefused": ".errors",
    "WebhookRejected": ".errors",
    "WebhookServerError": ".errors",
    "WebhookUnreachable": ".errors",
    "WebhookNotifier": ".notifier",
    "WebhookResult": ".sender",
    "WebhookTask": ".task",
}

__all__, __getattr__, __dir__ = sts.lazy_exports(
    __name__,
    _API,
    eager=[
        "sts_register_task_types",
        "sts_register_notifiers",
        "sts_scheduler_started",
        "sts_scheduler_stopping",
    ],
)
del typing


@sts.hookimpl
def sts_register_task_types(register: sts.RegisterTaskType) -> None:
    from .task import WebhookTask

    register("webhook", WebhookTask)


@sts.hookimpl
def sts_register_notifiers(register: sts.RegisterNotifier) -> None:
    from .notifier import WebhookNotifier

    register("webhook", WebhookNotifier)


@sts.hookimpl
def sts_scheduler_started(scheduler: sts.TaskScheduler) -> None:
    # Only once a webhook task exists (its module imports the clients): a scheduler that
    # runs no webhook does not even import httpx.
    clients = sys.modules.get(f"{__name__}.clients")
    if clients is not None:
        clients.scheduler_started(scheduler)


@sts.hookimpl
def sts_scheduler_stopping(scheduler: sts.TaskScheduler) -> None:
    clients = sys.modules.get(f"{__name__}.clients")
    if clients is not None:
        clients.scheduler_stopping(scheduler)

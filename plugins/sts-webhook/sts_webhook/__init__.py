"""sts-webhook: HTTP calls as STS tasks (signed, retried correctly, never twice by accident),
and webhook/Slack notifications.

Registers the task type ``webhook`` (``type = webhook`` in ``config.ini``; from Python, use
:class:`WebhookTask`) and the notifier scheme ``webhook:`` (``notify = webhook:https://...``,
:class:`WebhookNotifier`). The scheduler lifecycle hooks give each scheduler one pooled httpx
client, closed when it stops (see :mod:`sts_webhook.clients`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sts

if TYPE_CHECKING:
    from .destinations import DestinationRefused
    from .errors import WebhookRefused, WebhookRejected, WebhookServerError, WebhookUnreachable
    from .notifier import WebhookNotifier
    from .sender import WebhookResult
    from .task import WebhookTask

__all__ = [
    "DestinationRefused",
    "WebhookNotifier",
    "WebhookRefused",
    "WebhookRejected",
    "WebhookResult",
    "WebhookServerError",
    "WebhookTask",
    "WebhookUnreachable",
]

# Imported on use: loading the plugin (as `sts --help` does) must not import httpx.
_LAZY = {
    "DestinationRefused": ".destinations",
    "WebhookRefused": ".errors",
    "WebhookRejected": ".errors",
    "WebhookServerError": ".errors",
    "WebhookUnreachable": ".errors",
    "WebhookNotifier": ".notifier",
    "WebhookResult": ".sender",
    "WebhookTask": ".task",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sts_webhook' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


@sts.hookimpl
def sts_register_task_types(register: Callable[..., None]) -> None:
    from .task import WebhookTask

    register("webhook", WebhookTask)


@sts.hookimpl
def sts_register_notifiers(register: Callable[..., None]) -> None:
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

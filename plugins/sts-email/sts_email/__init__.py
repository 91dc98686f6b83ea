"""sts-email: email as an STS task type, and failure notifications by email.

Registers the task type ``email`` (``type = email``) and the notifier scheme ``email:``
(``notify = email:ops@example.org``). Both send with aiosmtplib and compose with the
standard library's :class:`email.message.EmailMessage`; their SMTP settings come from the
``[email]`` section and the job. From Python, use :class:`EmailTask` and
:class:`EmailNotifier` directly.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sts

if TYPE_CHECKING:
    from .errors import AttachmentError, SMTPRejected
    from .notifier import EmailNotifier
    from .settings import SMTPSettings
    from .task import EmailTask

__all__ = ["AttachmentError", "EmailNotifier", "EmailTask", "SMTPRejected", "SMTPSettings"]

# Imported on use: loading the plugin (as `sts --help` does) must not import aiosmtplib.
_LAZY = {
    "AttachmentError": ".errors",
    "SMTPRejected": ".errors",
    "EmailNotifier": ".notifier",
    "SMTPSettings": ".settings",
    "EmailTask": ".task",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sts_email' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


@sts.hookimpl
def sts_register_task_types(register: Callable[..., None]) -> None:
    from .task import EmailTask

    register("email", EmailTask)


@sts.hookimpl
def sts_register_notifiers(register: Callable[..., None]) -> None:
    from .notifier import EmailNotifier

    register("email", EmailNotifier)

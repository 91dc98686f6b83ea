"""sts-email: email as an STS task type, and failure notifications by email.

Registers the task type ``email`` (``type = email``) and the notifier scheme ``email:``
(``notify = email:ops@example.org``). Both send with aiosmtplib and compose with the
standard library's :class:`email.message.EmailMessage`; their SMTP settings come from the
``[email]`` section and the job. From Python, use :class:`EmailTask` and
:class:`EmailNotifier` directly.
"""

from __future__ import annotations

import typing

import sts

if typing.TYPE_CHECKING:
    from .errors import AttachmentError as AttachmentError
    from .errors import SMTPRejected as SMTPRejected
    from .notifier import EmailNotifier as EmailNotifier
    from .settings import SMTPSettings as SMTPSettings
    from .task import EmailTask as EmailTask

# Imported on use: loading the plugin (as `sts --help` does) must not import aiosmtplib.
_API = {
    "AttachmentError": ".errors",
    "SMTPRejected": ".errors",
    "EmailNotifier": ".notifier",
    "SMTPSettings": ".settings",
    "EmailTask": ".task",
}

__all__, __getattr__, __dir__ = sts.lazy_exports(
    __name__, _API, eager=["sts_register_task_types", "sts_register_notifiers"]
)
del typing


@sts.hookimpl
def sts_register_task_types(register: sts.RegisterTaskType) -> None:
    from .task import EmailTask

    register("email", EmailTask)


@sts.hookimpl
def sts_register_notifiers(register: sts.RegisterNotifier) -> None:
    from .notifier import EmailNotifier

    register("email", EmailNotifier)

"""The ``email:`` notifier scheme: ``notify = email:ops@example.org`` (several addresses:
``email:ops@example.org;dev@example.org``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sts

from .compose import (
    addr_spec,
    build_plain_message,
    check_template,
    parse_addresses,
    render,
    sender_and_reply_to,
)
from .sender import SMTPSender
from .settings import SMTPSettings

#: What the subject and body templates of a notification may say.
PLACEHOLDERS = (
    "job",
    "kind",
    "summary",
    "details",
    "outcome",
    "error",
    "attempt",
    "run_id",
    "fire_time",
    "fire_time_utc",
    "scheduler",
    "host",
    "suppressed",
)
DEFAULT_SUBJECT = "[sts] {summary}"
DEFAULT_BODY = "{details}"
#: A grouped mail lists every notification in it, and gives the body of this many.
GROUP_DETAILS = 20


class EmailNotifier:
    """Mails notifications; one SMTP connection for a burst, closed at stop.

    :param target: the addresses after ``email:``, separated by ``;``.
    :param notify_subject: template of the subject; ``[sts] {summary}`` reads
        ``[sts] backup failed on host1: timed out after 1800s``. (Not ``subject``: the
        ``[email]`` section also holds the options of ``email`` tasks, whose subject is
        another template.)
    :param notify_body: template of the text body; ``{details}`` is every fact, one a line.
    :param group_wait: how long the first notification waits for others to the same
        addresses, to go in one mail (Alertmanager's ``group_wait``); ``0``: only those
        ready together, or while the last mail was being sent.
    :param group_max: at most this many notifications in one mail; ``1``: a mail each.
    """

    def __init__(
        self,
        target: str,
        *,
        notify_subject: str = DEFAULT_SUBJECT,
        notify_body: str = DEFAULT_BODY,
        from_: str | None = None,
        reply_to: str | None = None,
        host: str = "localhost",
        port: int | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: str | float = 30.0,
        validate_certs: bool = True,
        ca_file: Path | None = None,
        group_wait: str | float = 1.0,
        group_max: int = 100,
    ) -> None:
        self.group_wait = sts.parse_duration(group_wait, what="group_wait")
        self.group_max = sts.parse_whole_number(group_max, what="group_max", minimum=1)
        self.to = parse_addresses(target, "the email: channel")
        if not self.to:
            raise ValueError("expected email:user@domain")
        self.sender, self.reply_to = sender_and_reply_to(from_, reply_to)
        self.envelope_sender = addr_spec(self.sender)
        check_template(notify_subject, PLACEHOLDERS, "notify_subject")
        check_template(notify_body, PLACEHOLDERS, "notify_body")
        self.subject, self.body = notify_subject, notify_body
        self.settings = SMTPSettings.build(
            host=host,
            port=port,
            security=security,
            username=username,
            password=password,
            timeout=timeout,
            validate_certs=validate_certs,
            ca_file=ca_file,
        )
        self.sender_connection = SMTPSender(self.settings)

    async def notify(self, event: sts.NotificationEvent) -> None:
        values = _values(event)
        await self._send(
            subject=render(self.subject, values),
            text=render(self.body, values),
            key=_key(event),
            about=event,
            headers={"X-STS-Job": event.job, "X-STS-Event": event.kind},
        )

    async def notify_group(self, events: Sequence[sts.NotificationEvent]) -> None:
        """One mail for several notifications: the subject of the first and how many more,
        a line for each, then the bodies of the first :data:`GROUP_DETAILS`."""
        first, count = events[0], len(events)
        values = [_values(event) for event in events[:GROUP_DETAILS]]
        rendered = [render(self.body, each) for each in values]
        lines = [f"{count} notifications from {first.scheduler} on {first.host}:", ""]
        lines += [f"- {event.summary}" for event in events]
        for event, body in zip(events, rendered, strict=False):
            lines += ["", f"======== {event.job}: {event.kind} ========", body.rstrip("\n")]
        if count > GROUP_DETAILS:
            lines += ["", f"(the details of the other {count - GROUP_DETAILS}: sts history)"]
        # One key per group: a retried delivery carries the same Message-ID.
        digest = hashlib.sha256("\n".join(_key(event) for event in events).encode()).hexdigest()
        await self._send(
            subject=f"{render(self.subject, values[0])} (and {count - 1} more)",
            text="\n".join(lines) + "\n",
            key=f"group/{count}/{digest[:32]}",
            about=events[-1],
            headers={
                "X-STS-Event": "group",
                "X-STS-Count": str(count),
                "X-STS-Jobs": ", ".join(dict.fromkeys(event.job for event in events)),
            },
        )

    async def _send(
        self,
        *,
        subject: str,
        text: str,
        key: str,
        about: sts.NotificationEvent,
        headers: dict[str, str],
    ) -> None:
        """Send one mail; its ``Date`` is when ``about`` (the newest of what it says)
        happened."""

        def compose() -> EmailMessage:
            return build_plain_message(
                sender=self.sender,
                to=self.to,
                reply_to=self.reply_to,
                subject=subject,
                text=text,
                key=key,
                now=about.record.finished_at or about.fire_time_utc,
                headers=headers,
            )

        await self.sender_connection.send(compose, self.envelope_sender, self.to)

    async def aclose(self) -> None:
        await self.sender_connection.aclose()


def _key(event: sts.NotificationEvent) -> str:
    """One key per notification: a retried delivery carries the same Message-ID."""
    return f"{event.job}@{event.fire_time_utc.isoformat()}/{event.kind}/{event.run_id}"


def _values(event: sts.NotificationEvent) -> dict[str, Any]:
    """What the templates' placeholders stand for."""
    return {
        "job": event.job,
        "kind": event.kind,
        "summary": event.summary,
        "details": event.describe(),
        "outcome": event.outcome,
        "error": event.error or "",
        "attempt": event.attempt,
        "run_id": event.run_id,
        "fire_time": event.fire_time.isoformat(),
        "fire_time_utc": event.fire_time_utc.isoformat(),
        "scheduler": event.scheduler,
        "host": event.host,
        "suppressed": event.suppressed,
    }

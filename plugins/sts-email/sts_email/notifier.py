"""The ``email:`` notifier scheme: ``notify = email:ops@example.org`` (several addresses:
``email:ops@example.org;dev@example.org``)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import sts

from .compose import (
    addr_spec,
    build_plain_message,
    check_address,
    check_template,
    parse_addresses,
    render,
)
from .sender import SMTPSender
from .settings import SMTPSettings
from .task import default_sender

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


class EmailNotifier:
    """Mails notifications; one SMTP connection for a burst, closed at stop.

    :param target: the addresses after ``email:``, separated by ``;``.
    :param notify_subject: template of the subject; ``[sts] {summary}`` reads
        ``[sts] backup failed on host1: timed out after 1800s``. (Not ``subject``: the
        ``[email]`` section also holds the options of ``email`` tasks, whose subject is
        another template.)
    :param notify_body: template of the text body; ``{details}`` is every fact, one a line.
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
    ) -> None:
        self.to = parse_addresses(target, "the email: channel")
        if not self.to:
            raise ValueError("expected email:user@domain")
        self.sender = from_ or default_sender()
        check_address(self.sender, "from")
        self.envelope_sender = addr_spec(self.sender)
        self.reply_to = reply_to
        if reply_to:
            check_address(reply_to, "reply_to")
        check_template(notify_subject, PLACEHOLDERS, "notify_subject")
        check_template(notify_body, PLACEHOLDERS, "notify_body")
        self.subject, self.body = notify_subject, notify_body
        self.settings = SMTPSettings.build(
            host, port, security, username, password, timeout, validate_certs, ca_file
        )
        self.sender_connection = SMTPSender(self.settings)

    async def notify(self, event: sts.NotificationEvent) -> None:
        record = event.record
        values = {
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
        # One key per notification: a retried delivery carries the same Message-ID.
        key = f"{event.job}@{event.fire_time_utc.isoformat()}/{event.kind}/{record.run_id}"

        def compose() -> EmailMessage:
            return build_plain_message(
                sender=self.sender,
                to=self.to,
                reply_to=self.reply_to,
                subject=render(self.subject, values),
                text=render(self.body, values),
                key=key,
                now=record.finished_at or event.fire_time_utc,
                headers={"X-STS-Job": event.job, "X-STS-Event": event.kind},
            )

        await self.sender_connection.send(compose, self.envelope_sender, self.to)

    async def aclose(self) -> None:
        await self.sender_connection.aclose()

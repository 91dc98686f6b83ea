"""The ``email`` task type: a message sent on a schedule."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import sts

from .compose import (
    DEFAULT_ATTACHMENT_LIMIT,
    addr_spec,
    build_message,
    check_template,
    parse_addresses,
    read_attachments,
    render,
    sender_and_reply_to,
)
from .sender import SMTPSender
from .settings import SMTPSettings

#: What the subject and the bodies may say.
PLACEHOLDERS = ("job", "fire_time", "run_id", "scheduler")


class EmailTask(sts.Task):
    """Send one message per run.

    Subject and bodies may hold ``{job}``, ``{fire_time}`` (ISO 8601, in the job's zone),
    ``{run_id}`` and ``{scheduler}``. The SMTP options are :class:`SMTPSettings`'; in a
    config file they usually sit in ``[email]``, shared by every email job and by the
    ``email:`` notifier. Errors: a 5xx reply fails the run at once (``sts.PermanentError``),
    a 4xx reply, a refused connection or a timeout is retried as the job's ``retries`` say.

    :param to: recipients (at least one of ``to``, ``cc``, ``bcc``).
    :param from_: the sender (``from`` in a config file); ``sts@<host>`` by default.
    :param attachments: files attached when the run starts; together at most
        ``attachment_limit`` bytes.
    """

    def __init__(
        self,
        to: list[str] | None = None,
        subject: str = "[sts] {job}",
        body: str | None = None,
        html: str | None = None,
        cc: list[str] | None = None,
        bcc: list[str] | None = None,
        from_: str | None = None,
        reply_to: str | None = None,
        attachments: list[Path] | None = None,
        attachment_limit: int = DEFAULT_ATTACHMENT_LIMIT,
        host: str = "localhost",
        port: int | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: str | float = 30.0,
        validate_certs: bool = True,
        ca_file: Path | None = None,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.to = parse_addresses(to, "to")
        self.cc = parse_addresses(cc, "cc")
        self.bcc = parse_addresses(bcc, "bcc")
        if not (self.to or self.cc or self.bcc):
            raise ValueError("an email needs recipients: set to (or cc, bcc)")
        self.sender, self.reply_to = sender_and_reply_to(from_, reply_to)
        if body is None and html is None:
            raise ValueError("an email needs a body: set body, html or both")
        for template, what in ((subject, "subject"), (body, "body"), (html, "html")):
            if template is not None:
                check_template(template, PLACEHOLDERS, what)
        self.subject, self.body, self.html = subject, body, html
        self.attachments = [Path(path).expanduser() for path in attachments or []]
        if attachment_limit <= 0:
            raise ValueError(f"invalid attachment_limit {attachment_limit}: expected bytes > 0")
        self.attachment_limit = attachment_limit
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
        self._sender: SMTPSender | None = None

    async def run(self) -> None:
        run = sts.current_run()
        values = {
            "job": run.job,
            "fire_time": run.fire_time.isoformat(),
            "run_id": run.run_id,
            "scheduler": run.scheduler,
        }

        def compose() -> EmailMessage:  # in a thread: reads the files, parses headers
            return build_message(
                sender=self.sender,
                to=self.to,
                cc=self.cc,
                reply_to=self.reply_to,
                subject=render(self.subject, values),
                text=None if self.body is None else render(self.body, values),
                html=None if self.html is None else render(self.html, values),
                attachments=read_attachments(self.attachments, self.attachment_limit),
                key=run.idempotency_key,
                now=run.started_at,
                headers={"X-STS-Job": run.job, "X-STS-Run-Id": run.run_id},
            )

        if self._sender is None:
            self._sender = SMTPSender(self.settings)
        recipients = [*self.to, *self.cc, *self.bcc]
        message = await self._sender.send(compose, addr_spec(self.sender), recipients)
        run.output["email"] = (
            f"sent {message['Message-ID']} to {len(recipients)} recipient(s) "
            f"through {self.settings.where}"
        )

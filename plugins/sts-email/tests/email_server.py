"""A real SMTP server (aiosmtpd) on a free loopback port, with TLS from a trustme
certificate authority and AUTH checked by the server: the helpers of the sts-email tests
(their fixtures are in conftest.py)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

USERNAME = "sts-mailer"
PASSWORD = "s3cr3t-Pa55word-for-smtp"


# The tests that talk to the server on a VirtualClock give it real time to answer
# (autojump_threshold=0.5) and turn the loop watchdog off (loop_block_threshold=None): its
# pings, while a run is under way, count as I/O and would keep the clock from ever jumping.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class Mailbox:
    """The server's handler: keeps what arrives; scripted replies for DATA and RCPT."""

    messages: list[Received] = field(default_factory=list)
    rejected: list[Received] = field(default_factory=list)
    """Messages whose DATA got a scripted refusal (what the client had sent)."""
    data_replies: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        with self.lock:
            if not any(seen is session for seen in self.sessions):
                self.sessions.append(session)  # one session per connection
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    @property
    def connections(self) -> int:
        return len(self.sessions)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        # Parsed with the line ends of a file, not of the wire.
        parsed = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        received = Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, raw)
        with self.lock:
            reply = self.data_replies.pop(0) if self.data_replies else "250 Message accepted"
            (self.messages if reply.startswith("250") else self.rejected).append(received)
        return reply

    def authenticate(
        self, server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USERNAME.encode()
            and data.password == PASSWORD.encode()
        )
        login = data.login.decode() if isinstance(data, LoginPassword) else "?"
        with self.lock:
            self.logins.append((mechanism, login, ok))
        # handled=False: the server answers 535 itself on a failure.
        return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    port: int
    mailbox: Mailbox
    ca_file: Path
    controller: Controller

    def options(self, **extra: Any) -> dict[str, Any]:
        """SMTP options of a task or notifier that talks to this server."""
        security = extra.pop("security", "none")
        return {"host": "127.0.0.1", "port": self.port, "security": security, **extra}


StartServer = Callable[..., Server]


def start_server(authority: trustme.CA, ca_file: Path, started: list[Controller]) -> StartServer:
    def start(security: str = "none", auth: bool = False, **options: Any) -> Server:
        mailbox = Mailbox()
        port = free_port()
        parameters: dict[str, Any] = {"hostname": "127.0.0.1", "port": port}
        if security != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            if security == "starttls":
                parameters.update(tls_context=context, require_starttls=True)
            else:
                # aiosmtpd only counts STARTTLS as TLS for AUTH; this one is TLS throughout.
                parameters.update(ssl_context=context, auth_require_tls=False)
        if auth:
            parameters.update(authenticator=mailbox.authenticate, auth_required=True)
        parameters.update(options)
        controller = Controller(mailbox, **parameters)
        controller.start()
        started.append(controller)
        return Server(port, mailbox, ca_file, controller)

    return start

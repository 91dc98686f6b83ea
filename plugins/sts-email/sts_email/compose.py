"""Composing messages with :class:`email.message.EmailMessage`: addresses, templates with
placeholders, attachments, and the headers that let a receiver drop a duplicate."""

from __future__ import annotations

import hashlib
import mimetypes
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import charset, policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path

from .errors import AttachmentError

#: The header carrying the run's idempotency key (the same on every attempt of one fire).
IDEMPOTENCY_HEADER = "X-STS-Idempotency-Key"
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024


def parse_addresses(value: str | Iterable[str] | None, what: str) -> list[str]:
    """Addresses from a list, or text separated by commas, semicolons or new lines.

    :raises ValueError: naming the option and the address that is not one.
    """
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    addresses: list[str] = []
    for item in items:
        for part in item.replace(";", ",").replace("\n", ",").split(","):
            address = part.strip()
            if not address:
                continue
            check_address(address, what)
            addresses.append(address)
    return addresses


def check_address(address: str, what: str) -> None:
    """:raises ValueError: when ``address`` is not ``user@domain`` (or ``Name <user@domain>``)."""
    try:
        parsed = _parse(address)
    except (ValueError, IndexError, TypeError):
        parsed = None
    if parsed is None or not parsed.username or not parsed.domain:
        raise ValueError(f"invalid address {address!r} in {what}: expected user@domain")


def sender_and_reply_to(from_: str | None, reply_to: str | None) -> tuple[str, str | None]:
    """A mail's ``From`` (``sts@<this host>`` by default) and ``Reply-To``, both checked.

    :raises ValueError: naming the option whose address is not ``user@domain``.
    """
    sender = from_ or default_sender()
    check_address(sender, "from")
    if reply_to:
        check_address(reply_to, "reply_to")
    return sender, reply_to


def default_sender() -> str:
    import socket

    host = socket.gethostname() or "localhost"
    return f"sts@{host if '.' in host else host + '.localdomain'}"


def _parse(address: str) -> Address:
    message = EmailMessage()
    message["To"] = address
    addresses = message["To"].addresses
    if len(addresses) != 1:
        raise ValueError(address)
    parsed: Address = addresses[0]
    return parsed


@lru_cache(maxsize=256)
def domain_of(address: str) -> str:
    return _parse(address).domain


def addr_spec(address: str) -> str:
    """``STS <sts@example.org>`` -> ``sts@example.org`` (the SMTP envelope's form)."""
    return _parse(address).addr_spec


def check_template(template: str, allowed: Sequence[str], what: str) -> None:
    """:raises ValueError: for a placeholder that is not one of ``allowed`` (or bad braces)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(
            f"invalid {what} template: {error} (write {{{{ and }}}} for literal braces)"
        ) from None
    for _, field, _, _ in parsed:
        if field is not None and field not in allowed:
            shown = ", ".join(f"{{{name}}}" for name in allowed)
            raise ValueError(
                f"unknown placeholder {{{field}}} in {what}: expected {shown} "
                f"(write {{{{ and }}}} for literal braces)"
            )


def render(template: str, values: Mapping[str, object]) -> str:
    """``template`` with its placeholders filled (checked before by :func:`check_template`)."""
    return template.format_map(values)


def message_id(key: str, domain: str) -> str:
    """A Message-ID made from ``key``: every attempt of one fire sends the same one, so a
    receiver (or a mail store) that keeps Message-IDs drops a duplicate."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content: bytes
    maintype: str
    subtype: str


def read_attachments(paths: Sequence[Path], limit: int) -> list[Attachment]:
    """The files, read whole (a thread calls this: reading may be slow).

    :raises AttachmentError: for a missing or unreadable file, or when together they
        exceed ``limit`` bytes.
    """
    attachments = []
    total = 0
    for path in paths:
        try:
            if path.is_dir():
                raise IsADirectoryError(path)
            size = path.stat().st_size
            total += size
            if total > limit:
                raise AttachmentError(
                    f"attachments exceed the limit of {limit} bytes at {path} "
                    f"({size} bytes): raise attachment_limit or send a link"
                )
            content = path.read_bytes()
        except FileNotFoundError:
            raise AttachmentError(f"attachment not found: {path}") from None
        except IsADirectoryError:
            raise AttachmentError(f"attachment is a directory, not a file: {path}") from None
        except OSError as error:
            raise AttachmentError(f"cannot read attachment {path}: {error.strerror}") from None
        kind, encoding = mimetypes.guess_type(path.name)
        if kind is None or encoding is not None:
            kind = "application/octet-stream"
        maintype, _, subtype = kind.partition("/")
        attachments.append(Attachment(path.name, content, maintype, subtype))
    return attachments


def _standard_headers(
    sender: str, key: str, now: datetime, headers: Mapping[str, str] | None
) -> list[tuple[str, str]]:
    return [
        ("Date", format_datetime(now)),
        ("Message-ID", message_id(key, domain_of(sender))),
        (IDEMPOTENCY_HEADER, key),
        *(headers or {}).items(),
    ]


#: Plain text, readable in the raw message (quoted-printable, not base64).
_TEXT = charset.Charset("utf-8")
_TEXT.body_encoding = charset.QP
#: The legacy policy stores header text as given instead of parsing it: a tenth of the
#: CPU of the default policy, which matters for a burst of a thousand notifications.
_PLAIN_POLICY = policy.compat32.clone(linesep="\r\n")


def build_plain_message(
    *,
    sender: str,
    to: Sequence[str],
    reply_to: str | None = None,
    subject: str,
    text: str,
    key: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A text-only message (a notification), with the same standard headers as
    :func:`build_message`; the addresses were checked when the notifier was made."""
    message = EmailMessage(policy=_PLAIN_POLICY)
    message["From"] = sender
    message["To"] = ", ".join(to)
    if reply_to:
        message["Reply-To"] = reply_to
    line = " ".join(subject.split())
    message["Subject"] = line if line.isascii() else Header(line, "utf-8")
    for name, value in _standard_headers(sender, key, now, headers):
        message[name] = value
    message.set_payload(text, _TEXT)
    return message


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    reply_to: str | None = None,
    subject: str,
    text: str | None,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
    key: str,
    now: datetime,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A message with ``Date``, a ``Message-ID`` derived from ``key``, and ``key`` itself in
    :data:`IDEMPOTENCY_HEADER`. Blind copies are no header: pass them as recipients."""
    message = EmailMessage()
    message["From"] = sender
    if to:
        message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = " ".join(subject.split())  # a header is one line
    for name, value in _standard_headers(sender, key, now, headers):
        message[name] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html or "", subtype="html")
    for attachment in attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.name,
        )
    return message

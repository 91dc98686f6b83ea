"""What can go wrong sending mail, split by whether another attempt can help.

Permanent errors are ``sts.PermanentError``: the run fails at once, whatever its
``retries`` say. Everything else (a refused connection, a timeout, a 4xx reply) is an
ordinary error, retried as the job's policy says.
"""

from __future__ import annotations

import sts


class SMTPRejected(sts.PermanentError):
    """The server answered with a 5xx reply (bad recipient, failed authentication, a
    message it refuses): retrying sends the same thing to the same answer."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class SMTPTemporaryError(Exception):
    """A 4xx reply, a refused or dropped connection, a timeout: worth another attempt."""


class CertificateError(sts.PermanentError):
    """The server's TLS certificate is not trusted: a configuration problem."""


class AttachmentError(sts.PermanentError):
    """An attachment is missing, unreadable or too large."""

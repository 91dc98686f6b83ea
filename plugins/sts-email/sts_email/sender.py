"""Sending with aiosmtplib over one connection, kept open for a burst of messages and
closed when idle; and turning what the server or the network said into an error that
says whether another attempt can help.

Composing a message costs milliseconds of CPU (the standard library parses every header),
so it happens in a worker thread, one message at a time: a burst of a thousand
notifications never holds the event loop for seconds.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Sequence
from email import policy
from email.message import EmailMessage

import aiosmtplib

from .errors import CertificateError, SMTPRejected, SMTPTemporaryError
from .settings import SMTPSettings

#: A connection unused this long is closed (servers drop idle clients after a few minutes
#: anyway; a burst of notifications comes within seconds).
IDLE_CLOSE = 15.0


class SMTPSender:
    """One SMTP connection for one event loop; messages are sent one after the other."""

    def __init__(self, settings: SMTPSettings) -> None:
        self.settings = settings
        self._client: aiosmtplib.SMTP | None = None
        self._lock: asyncio.Lock | None = None
        self._idle: asyncio.TimerHandle | None = None
        #: Connections opened so far (a burst should open one).
        self.connections = 0

    async def send(
        self, compose: Callable[[], EmailMessage], sender: str, recipients: Sequence[str]
    ) -> EmailMessage:
        """Compose a message (in a thread) and send it from ``sender`` (the envelope's
        address) to ``recipients`` (its To, Cc and the blind copies); return it.

        :raises SMTPRejected: a 5xx reply: not worth retrying.
        :raises CertificateError: the server's certificate is not trusted.
        :raises SMTPTemporaryError: a 4xx reply, a connection refused or dropped, a timeout.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            message, data = await asyncio.to_thread(_composed, compose)
            if self._idle is not None:
                self._idle.cancel()
            try:
                await self._send(data, sender, recipients)
            except BaseException:
                self._drop()  # a failed conversation may leave the connection half-way
                raise
            self._idle = asyncio.get_running_loop().call_later(IDLE_CLOSE, self._drop)
            return message

    async def _send(self, data: bytes, sender: str, recipients: Sequence[str]) -> None:
        reused = self._client is not None and self._client.is_connected
        try:
            client = await self._connected()
            try:
                refused, _ = await client.sendmail(sender, list(recipients), data)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # The server closed the kept connection meanwhile: once more, on a new one.
                self._drop()
                client = await self._connected()
                refused, _ = await client.sendmail(sender, list(recipients), data)
        except Exception as error:
            raise self.explain(error) from None
        if refused:
            # Some recipients got it: a retry would send it again to them.
            replies = "; ".join(
                f"{address}: {response.code} {response.message}"
                for address, response in refused.items()
            )
            raise SMTPRejected(f"{self.settings.where} refused recipients: {replies}", 550)

    async def _connected(self) -> aiosmtplib.SMTP:
        client = self._client
        if client is not None and client.is_connected:
            return client
        client = aiosmtplib.SMTP(**self.settings.client_options())
        self._client = client
        await client.connect()
        self.connections += 1
        return client

    def explain(self, error: BaseException) -> Exception:
        """``error`` as one of this plugin's errors, with the server's reply in it."""
        where = self.settings.where
        certificate = _certificate_error(error)
        if certificate is not None:
            return CertificateError(
                f"the TLS certificate of {where} is not trusted: {certificate.verify_message}"
                f" (give its authority in ca_file, or set validate_certs = false on a trusted"
                f" network)"
            )
        if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
            codes = [refused.code for refused in error.recipients]
            replies = "; ".join(
                f"{refused.recipient}: {refused.code} {refused.message}"
                for refused in error.recipients
            )
            text = f"{where} refused every recipient: {replies}"
            if any(code >= 500 for code in codes):
                return SMTPRejected(text, max(codes))
            return SMTPTemporaryError(text)
        if isinstance(error, aiosmtplib.SMTPResponseException):
            what = {
                aiosmtplib.SMTPAuthenticationError: "refused the login",
                aiosmtplib.SMTPSenderRefused: "refused the sender",
                aiosmtplib.SMTPRecipientRefused: "refused the recipient",
                aiosmtplib.SMTPDataError: "refused the message",
            }.get(type(error), "answered")
            text = f"{where} {what}: {error.code} {error.message}"
            if error.code >= 500:
                return SMTPRejected(text, error.code)
            return SMTPTemporaryError(f"{text} (temporary)")
        if isinstance(error, aiosmtplib.SMTPTimeoutError | TimeoutError):
            return SMTPTemporaryError(f"{where} timed out: {error}")
        if isinstance(error, aiosmtplib.SMTPException | OSError):
            return SMTPTemporaryError(f"cannot send through {where}: {error}")
        return error if isinstance(error, Exception) else RuntimeError(str(error))

    def _drop(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Say goodbye (QUIT) and close the connection, if one is open. A scheduler that
        starts again, on another event loop, gets a new connection and lock."""
        self._lock = None
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()


def _certificate_error(error: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _composed(compose: Callable[[], EmailMessage]) -> tuple[EmailMessage, bytes]:
    message = compose()
    # The wire form: CRLF line ends, long headers folded.
    wire = policy.SMTP if isinstance(message.policy, policy.EmailPolicy) else message.policy
    return message, message.as_bytes(policy=wire)

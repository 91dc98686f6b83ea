"""Reading an answer: its body's tail in bounded memory, and what ``Retry-After`` asks."""

from __future__ import annotations

import contextlib
import email.utils
import errno
import os
import ssl
from datetime import UTC, datetime

import httpx

from .errors import WebhookRefused, WebhookUnreachable


async def read_tail(response: httpx.Response, limit: int) -> tuple[bytes, int]:
    """The last ``limit`` bytes of the body and its whole length, reading it chunk by chunk
    (a huge answer costs a chunk and the tail, not its size)."""
    tail = bytearray()
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        tail += chunk
        if len(tail) > limit:
            del tail[: len(tail) - limit]
    return bytes(tail), total


def retry_after_seconds(response: httpx.Response) -> float:
    """The wait ``Retry-After`` asks for: delay-seconds, or an HTTP date, measured from the
    answer's own ``Date`` (so the server's clock, not ours, decides). ``0`` without one, or
    for a value that is neither (RFC 9110, section 10.2.3)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return 0.0
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    now = datetime.now(UTC)
    date = response.headers.get("date")
    if date:
        with contextlib.suppress(TypeError, ValueError):
            now = email.utils.parsedate_to_datetime(date)
    if when.tzinfo is None or now.tzinfo is None:
        return 0.0
    return max(0.0, (when - now).total_seconds())


def transport_failure(error: httpx.HTTPError, where: str, read_timeout: float) -> Exception:
    """The exception a failed call raises: retried when another try may get an answer,
    permanent when the request itself cannot work (a bad certificate, a bad URL)."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        certificate = _cause(error, ssl.SSLCertVerificationError)
        if certificate is not None:
            reason = getattr(certificate, "verify_message", None) or str(certificate)
            return WebhookRefused(
                f"the TLS certificate of {where} did not verify ({reason}); if the server uses "
                f"a private CA, give its certificate with ca = /path/to/ca.pem"
            )
        if isinstance(error, httpx.ConnectTimeout):
            return WebhookUnreachable(f"could not connect to {where}: timed out (connect_timeout)")
        return WebhookUnreachable(f"could not connect to {where}: {_os_reason(error)}")
    if isinstance(error, httpx.ReadTimeout):
        return WebhookUnreachable(f"no answer from {where} within read_timeout ({read_timeout:g}s)")
    if isinstance(error, httpx.PoolTimeout):
        return WebhookUnreachable(
            f"no free connection to {where} within connect_timeout: too many calls at once"
        )
    if isinstance(error, httpx.TransportError) and not isinstance(
        error, httpx.UnsupportedProtocol | httpx.LocalProtocolError
    ):
        # Timeouts while writing, resets, a server that hung up mid-answer: all may pass.
        return WebhookUnreachable(f"the call to {where} failed: {_describe(error)}")
    return WebhookRefused(f"the call to {where} cannot be made: {_describe(error)}")


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{text} ({type(error).__name__})" if text else type(error).__name__


def _cause(
    error: BaseException, kind: type[BaseException], *, with_errno: bool = False
) -> BaseException | None:
    """The first exception of ``kind`` in ``error``'s chain (anyio hides the OS error of a
    refused connection under "All connection attempts failed", sometimes in a group)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind) and (
            not with_errno or getattr(current, "errno", None) is not None
        ):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return None


def _os_reason(error: httpx.HTTPError) -> str:
    found = _cause(error, OSError, with_errno=True)
    if isinstance(found, OSError) and found.errno is not None:
        name = errno.errorcode.get(found.errno, str(found.errno))
        reason = os.strerror(found.errno).lower()  # asyncio's strerror names the address
        return f"{reason} ({name})"
    return _describe(error)

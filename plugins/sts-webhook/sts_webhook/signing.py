"""Signing per the Standard Webhooks specification (the scheme of Svix, Clerk and others).

Three headers: ``webhook-id`` (here the run's idempotency key, the same on every retry of a
fire), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``:
``v1,<base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``. The key is the secret's
bytes: a ``whsec_`` secret is ``whsec_`` and the key in base64, as the specification and its
reference libraries read it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` (or bare base64) secret.

    :raises ValueError: when the secret is not base64 (the message never quotes it).
    """
    encoded = secret.strip()
    if encoded.startswith(SECRET_PREFIX):
        encoded = encoded[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ValueError(
            "the signing secret is not a Standard Webhooks secret: expected 'whsec_' followed "
            'by base64, e.g. one made with: python -c "import base64, os; '
            "print('whsec_' + base64.b64encode(os.urandom(32)).decode())\""
        )
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value of one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    key: bytes, message_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three headers that sign ``body``. The timestamp is the real wall clock's (the
    receiver compares it with its own clock), not the scheduler's."""
    when = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(when),
        "webhook-signature": signature(key, message_id, when, body),
    }

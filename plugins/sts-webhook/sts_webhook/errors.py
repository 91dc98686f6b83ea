"""Why a webhook call failed, and whether the job's retries apply.

- :class:`WebhookServerError`: a 5xx or 429 answer. Retried, waiting at least the answer's
  ``Retry-After``.
- :class:`WebhookUnreachable`: no answer (refused, reset, timed out, a name that does not
  resolve). Retried.
- :class:`WebhookRejected`: any other status outside ``expect`` (a 4xx, an unfollowed 3xx).
  Never retried.
- :class:`WebhookRefused`: the call was never made (a destination rule, a TLS certificate
  that does not verify, a missing secret). Never retried.
"""

from __future__ import annotations

import sts


class WebhookServerError(sts.RetryAfter):
    """The server answered 5xx or 429: it may well answer 2xx later, so the run is retried,
    no sooner than the server's ``Retry-After`` (capped at the job's ``max_backoff``).

    :param status: the status code.
    :param seconds: the ``Retry-After`` wait; ``0`` when the server gave none.
    """

    def __init__(self, message: str, *, status: int, seconds: float = 0.0) -> None:
        super().__init__(seconds, message)
        self.status = status


class WebhookUnreachable(Exception):
    """No answer came: the connection was refused or reset, a timeout passed, the name did
    not resolve. An ordinary exception, so the job's retry policy applies."""


class WebhookRejected(sts.PermanentError):
    """The server answered with a status outside ``expect`` that is not worth retrying (a
    4xx other than 429): the request itself is wrong, and sending it again will not help.

    :param status: the status code.
    """

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class WebhookRefused(sts.SetupError):
    """The call was not made: a destination rule refused it (``allow_hosts``,
    ``deny_private``), the server's TLS certificate did not verify, or a secret is missing.
    Never retried: none of these changes by itself within a backoff. A ``sts.SetupError``,
    so the log says it in one line, without a traceback."""

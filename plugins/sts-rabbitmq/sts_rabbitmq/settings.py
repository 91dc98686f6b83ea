"""The ``[rabbitmq]`` section: where the broker is, how to reach it, what the queues are
called. The same section serves the scheduler (the executor's options) and ``sts worker``.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass

import sts

_NAME = re.compile(r"[A-Za-z0-9][\w.-]*")
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _queue_name(value: str, what: str) -> str:
    text = str(value).strip()
    if not _NAME.fullmatch(text) or len(text) > 200:
        raise ValueError(
            f"invalid {what} {value!r}: expected letters, digits, '_', '.' or '-' "
            f"(at most 200), such as 'default' or 'gpu'"
        )
    return text


@dataclass(frozen=True, slots=True)
class RabbitSettings:
    """Checked connection settings and names.

    :param url: ``amqp://user:password@host:port/vhost`` (``amqps://`` for TLS); the
        password may be ``${secret:NAME}``.
    :param prefix: the first word of every exchange and queue name (``sts.fires.default``).
    :param queue: the worker pool jobs go to unless their ``executor`` names one
        (``executor = rabbitmq:gpu``).
    :param prefetch: how many outcome messages the scheduler takes at once.
    :param backstop: how long past a job's ``timeout`` the scheduler waits for a worker's
        outcome before it records the attempt ``timed_out`` itself.
    :param claim_timeout: how long a worker waits for the scheduler's answer to a claim
        before it asks again.
    :param delivery_limit: how many times the broker delivers one message before it
        dead-letters it (a message that kills every worker that takes it).
    :param ca_file: TLS: the CA bundle that signed the broker's certificate.
    :param cert_file: TLS: this client's certificate (for brokers that ask for one).
    :param key_file: TLS: this client's key.
    """

    url: str = DEFAULT_URL
    prefix: str = "sts"
    queue: str = "default"
    prefetch: int = 256
    backstop: float = 30.0
    claim_timeout: float = 10.0
    delivery_limit: int = 5
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def build(
        cls,
        *,
        url: str = DEFAULT_URL,
        prefix: str = "sts",
        queue: str = "default",
        prefetch: int = 256,
        backstop: str = "30s",
        claim_timeout: str = "10s",
        delivery_limit: int = 5,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> RabbitSettings:
        """Check every option; a wrong one raises ``ValueError`` naming it."""
        text = str(url).strip()
        if not text.startswith(("amqp://", "amqps://")):
            raise ValueError(
                f"invalid url {sts.redact(text)!r}: expected amqp://user:password@host:port/vhost "
                f"or amqps://... for TLS"
            )
        for key, number, low in (("prefetch", prefetch, 1), ("delivery_limit", delivery_limit, 1)):
            if isinstance(number, bool) or not isinstance(number, int) or number < low:
                raise ValueError(f"invalid {key} {number!r}: expected a whole number >= {low}")
        if (cert_file is None) != (key_file is None):
            raise ValueError("cert_file and key_file go together: give both, or neither")
        return cls(
            url=text,
            prefix=_queue_name(prefix, "prefix"),
            queue=_queue_name(queue, "queue"),
            prefetch=prefetch,
            backstop=sts.parse_duration(backstop, what="backstop"),
            claim_timeout=sts.parse_duration(claim_timeout, what="claim_timeout") or 10.0,
            delivery_limit=delivery_limit,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
        )

    # -- names ----------------------------------------------------------------------------

    @property
    def fires_exchange(self) -> str:
        return f"{self.prefix}.fires"

    @property
    def dead_exchange(self) -> str:
        return f"{self.prefix}.dead"

    @property
    def dead_queue(self) -> str:
        return f"{self.prefix}.dead"

    def fires_queue(self, pool: str | None) -> str:
        """The queue of a worker pool (routing key: the pool's name)."""
        return f"{self.prefix}.fires.{pool or self.queue}"

    def outcomes_queue(self, scheduler_name: str) -> str:
        return f"{self.prefix}.outcomes.{scheduler_name}"

    def claims_queue(self, scheduler_name: str) -> str:
        return f"{self.prefix}.claims.{scheduler_name}"

    # -- connecting -----------------------------------------------------------------------

    def resolved_url(self) -> str:
        """The url with its ``${secret:...}`` resolved (never logged)."""
        return sts.resolve_secrets(self.url)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.url.startswith("amqps://"):
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file is not None and self.key_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

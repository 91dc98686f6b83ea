"""Sending one webhook request and judging its answer: the part the task type and the
notifier share.

A :class:`Sender` holds what does not change between calls (timeouts, ``expect``, the
destination rules, the TLS settings, the signing secret's reference) and sends a request
built by its caller: it signs it, adds the ``Idempotency-Key``, picks the scheduler's
client, and turns the answer or the failure into a result or an exception whose type says
whether a retry may help (see :mod:`sts_webhook.errors`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx

import sts

from .clients import ClientSettings, make_client, shared_pool
from .destinations import EXTENSION, DestinationRules, origin_of
from .errors import WebhookRefused, WebhookRejected, WebhookServerError
from .options import parse_expect, parse_list
from .responses import read_tail, retry_after_seconds, transport_failure
from .signing import signature_headers, signing_key


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """An answer inside ``expect``: what ``WebhookTask.run`` returns."""

    status: int
    reason: str
    elapsed: float
    """Seconds from sending the request to the end of the answer."""
    text: str
    """The last ``max_response`` bytes of the body, decoded."""


class Sender:
    """Sends requests with one set of options; every option is checked here.

    :raises ValueError: for an invalid option, naming it and what would be valid.
    """

    def __init__(
        self,
        *,
        connect_timeout: str | float = "10s",
        read_timeout: str | float = "30s",
        expect: str | Iterable[int] = "2xx",
        follow_redirects: bool | str = False,
        max_response: int | str = "64KiB",
        signing_secret: str | None = None,
        allow_hosts: str | Sequence[str] | None = None,
        deny_private: bool | str = True,
        ca: str | None = None,
        http2: bool | str = "auto",
    ) -> None:
        self.connect_timeout = _positive(connect_timeout, "connect_timeout")
        self.read_timeout = _positive(read_timeout, "read_timeout")
        self.expect = parse_expect(expect)
        self.follow_redirects = sts.parse_boolean(follow_redirects, what="follow_redirects")
        self.max_response = sts.parse_size(max_response, what="max_response")
        if signing_secret is not None and not isinstance(signing_secret, str):
            raise ValueError("invalid signing_secret: expected text, e.g. ${secret:HOOK_SECRET}")
        if signing_secret is not None and "${secret:" not in signing_secret:
            signing_key(signing_secret)  # a plain secret is checked now, a reference at run time
        self.signing_secret = signing_secret
        self.destinations = DestinationRules.parse(
            parse_list(allow_hosts, what="allow_hosts"),
            sts.parse_boolean(deny_private, what="deny_private"),
        )
        if ca is not None and not isinstance(ca, str):
            raise ValueError(f"invalid ca {ca!r}: expected the path of a PEM file")
        self.client_settings = ClientSettings(ca=ca, http2=_http2(http2))
        self.timeout = httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        content: bytes | None,
        message_id: str,
        params: httpx.QueryParams | None = None,
        output: dict[str, str] | None = None,
    ) -> WebhookResult:
        """Send one request; ``headers`` already resolved. ``message_id`` is its
        ``Idempotency-Key`` (unless ``headers`` has one) and ``webhook-id``.

        :param output: where the status, the elapsed time and the answer's tail are kept
            (a run's ``output``, which goes to its record).
        :raises WebhookServerError, WebhookUnreachable: a retry may help.
        :raises WebhookRejected, WebhookRefused: it will not.
        """
        if not any(name.lower() == "idempotency-key" for name in headers):
            headers["Idempotency-Key"] = message_id
        if self.signing_secret is not None:
            secret = resolve(self.signing_secret, "signing_secret")
            try:
                key = signing_key(secret)
            except ValueError as error:
                raise WebhookRefused(f"signing_secret: {error}") from None
            headers.update(signature_headers(key, message_id, content or b""))
        origin = _origin(url)
        pool = shared_pool()
        if pool is None:  # outside a scheduler: a client for this call alone
            async with make_client(self.client_settings) as own:
                return await self._send(own, method, url, origin, headers, content, params, output)
        group = pool.get(self.client_settings)
        try:
            async with group.client(self.timeout.pool, origin) as client:
                return await self._send(
                    client, method, url, origin, headers, content, params, output
                )
        except httpx.PoolTimeout as error:
            raise transport_failure(error, origin, self.read_timeout) from None

    async def _send(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        where: str,
        headers: dict[str, str],
        content: bytes | None,
        params: httpx.QueryParams | None,
        output: dict[str, str] | None,
    ) -> WebhookResult:
        request = client.build_request(
            method,
            url,
            params=params,
            headers=headers,
            content=content,
            timeout=self.timeout,
            extensions={EXTENSION: self.destinations},
        )
        started = time.perf_counter()
        try:
            response = await client.send(
                request, stream=True, follow_redirects=self.follow_redirects
            )
            try:
                tail, total = await read_tail(response, self.max_response)
            finally:
                await response.aclose()
        except httpx.HTTPError as error:
            raise transport_failure(error, where, self.read_timeout) from None
        elapsed = time.perf_counter() - started
        status, reason = response.status_code, response.reason_phrase
        text = tail.decode(response.encoding or "utf-8", errors="replace")
        if output is not None:
            output["status"] = f"{status} {reason}".strip()
            output["elapsed"] = f"{elapsed:.3f}s"
            if total:
                output["response"] = text
        if status in self.expect:
            return WebhookResult(status, reason, elapsed, text)
        answered = f"{method} {where} answered {status} {reason}".rstrip()
        excerpt = _first_line(text)
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response)
            after = f" (Retry-After: {wait:g}s)" if wait else ""
            raise WebhookServerError(f"{answered}{after}{excerpt}", status=status, seconds=wait)
        raise WebhookRejected(f"{answered}, not retried{excerpt}", status=status)


def resolve(text: str, where: str) -> str:
    """``text`` with its ``${secret:NAME}`` resolved; a missing secret is permanent."""
    if "${secret:" not in text:
        return text
    try:
        return sts.resolve_secrets(text)
    except sts.SecretError as error:
        raise WebhookRefused(f"{where}: {error}") from None


def resolve_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: resolve(value, f"header {name}") for name, value in headers.items()}


def check_url(url: str) -> str:
    """``url``, checked now; one holding a secret is checked once resolved (at send time,
    with :func:`resolve_url`)."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"invalid url {url!r}: expected an http:// or https:// URL")
    url = url.strip()
    if "${secret:" not in url:
        from .placeholders import NAMES, fill

        problem = _url_problem(fill(url, dict.fromkeys(NAMES, "x")))
        if problem:
            raise ValueError(f"invalid url {url!r}: {problem}")
    return url


def resolve_url(url: str) -> str:
    if "${secret:" not in url:
        return url
    resolved = resolve(url, "url")
    problem = _url_problem(resolved)
    if problem:  # the message names the option, never the secret URL
        raise WebhookRefused(f"url: the secret it refers to is not a usable URL: {problem}")
    return resolved


def _origin(url: str) -> str:
    """The origin of ``url``. Parsing a URL costs a tenth of a call's own CPU and most jobs
    call one host, so the parse is cached, keyed by ``scheme://host:port`` alone: never
    the path, query or user part, where a secret may be."""
    scheme, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return _origin_of_authority(f"{scheme}://{authority.rpartition('@')[2]}")


@functools.lru_cache(maxsize=256)
def _origin_of_authority(prefix: str) -> str:
    return origin_of(httpx.URL(prefix))


def _url_problem(url: str) -> str | None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        return str(error)
    if parsed.scheme not in ("http", "https"):
        return "expected an http:// or https:// URL"
    if not parsed.host:
        return "it names no host"
    return None


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f": {line[:200]}" if line else ""


def _positive(value: str | float, what: str) -> float:
    seconds = sts.parse_duration(value, what=what)
    if seconds <= 0:
        raise ValueError(f"invalid {what} {value!r}: it must be longer than zero")
    return seconds


def _http2(value: bool | str) -> bool:
    available = _h2_installed()
    if isinstance(value, str) and value.strip().lower() == "auto":
        return available
    wanted = sts.parse_boolean(value, what="http2")
    if wanted and not available:
        raise ValueError(
            "invalid http2 true: HTTP/2 needs the h2 package; install sts-webhook[http2], or "
            "set http2 = auto"
        )
    return wanted


def _h2_installed() -> bool:
    try:
        import h2  # noqa: F401
    except ImportError:
        return False
    return True

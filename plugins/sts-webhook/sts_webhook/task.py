"""``WebhookTask``: an HTTP call as a task, retried correctly, signed, never twice by accident.

Every request carries the run's idempotency key (``Idempotency-Key``, the same on every
retry of one fire), so a receiver that honours it acts once per fire. Answers 5xx and 429,
and calls that got no answer, fail the attempt in a way the job's retries apply to
(waiting at least the server's ``Retry-After``); any other status outside ``expect`` fails
the run at once.
"""

from __future__ import annotations

import json as jsonlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

import sts

from .clients import ClientSettings, make_client, shared_pool
from .destinations import EXTENSION, DestinationRules
from .errors import WebhookRefused, WebhookRejected, WebhookServerError
from .options import (
    parse_expect,
    parse_headers,
    parse_json,
    parse_list,
    parse_method,
    parse_pairs,
    parse_size,
)
from .placeholders import NAMES, fill, fill_json, has_placeholder, run_facts
from .responses import read_tail, retry_after_seconds, transport_failure
from .signing import signature_headers, signing_key

logger = logging.getLogger("sts.webhook")

_ABSENT: Any = object()


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What ``WebhookTask.run`` returns for an answer inside ``expect``."""

    status: int
    reason: str
    elapsed: float
    """Seconds from sending the request to the end of the answer."""
    text: str
    """The last ``max_response`` bytes of the body, decoded."""


class WebhookTask(sts.Task):
    """Call a URL.

    :param url: ``http://`` or ``https://``; may hold placeholders (``{job}``, ``{run_id}``,
        ``{fire_time}``, ``{attempt}``, ``{idempotency_key}``, percent-encoded here) and
        ``${secret:NAME}`` (a Slack webhook URL is itself a secret).
    :param method: the HTTP method.
    :param headers: a mapping, or ``Name: value`` lines; values may hold placeholders and
        ``${secret:NAME}``.
    :param json: a JSON body: a Python value, or JSON text; placeholders are filled in its
        strings.
    :param body: a text body, sent as is (placeholders filled); ``text/plain`` unless
        ``headers`` set ``Content-Type``.
    :param form: a form body: a mapping or ``key=value`` lines.
    :param params: query parameters: a mapping or ``key=value`` lines.
    :param connect_timeout: how long connecting (and waiting for a pooled connection) may
        take. (The job's ``timeout`` policy bounds the whole run.)
    :param read_timeout: how long the server may stay silent while answering.
    :param expect: status codes that mean success (``"2xx"``, ``"200, 202"``).
    :param follow_redirects: follow 3xx answers (each hop is checked against the
        destination rules).
    :param max_response: bytes of the answer kept in the run record (its end).
    :param signing_secret: a Standard Webhooks secret (``whsec_...``), usually
        ``${secret:NAME}``: the request is signed with it.
    :param allow_hosts: host names, patterns (``*.example.com``), addresses or ranges
        (``10.0.0.0/8``) this webhook may call; those listed may be private.
    :param deny_private: refuse hosts that resolve to loopback, private or link-local
        addresses (unless in ``allow_hosts``).
    :param ca: a PEM file of CA certificates to verify the server with, instead of the
        system's.
    :param http2: offer HTTP/2 (``auto``: when the ``sts-webhook[http2]`` extra is
        installed).
    :param name: the task's name.
    :raises ValueError: for an invalid option, naming it and what would be valid.
    """

    def __init__(
        self,
        url: str,
        *,
        method: str = "POST",
        headers: str | Mapping[str, str] | None = None,
        json: Any = _ABSENT,
        body: str | None = None,
        form: str | Mapping[str, str] | None = None,
        params: str | Mapping[str, str] | None = None,
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
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.url = _check_url(url)
        self.method = parse_method(method)
        self.headers = parse_headers(headers)
        given = {"json": json is not _ABSENT, "body": body is not None, "form": form is not None}
        bodies = [key for key, present in given.items() if present]
        if len(bodies) > 1:
            raise ValueError(
                f"invalid body: {' and '.join(bodies)} are both given; a request has one body, "
                f"so give one of json, body and form"
            )
        self.json = _ABSENT if json is _ABSENT else parse_json(json)
        if body is not None and not isinstance(body, str):
            raise ValueError(f"invalid body {body!r}: expected text")
        self.body = body
        self.form = parse_pairs(form, what="form") if form is not None else None
        self.params = parse_pairs(params, what="params")
        self._params = httpx.QueryParams(tuple(self.params)) if self.params else None
        self.connect_timeout = _positive(connect_timeout, "connect_timeout")
        self.read_timeout = _positive(read_timeout, "read_timeout")
        self.expect = parse_expect(expect)
        self.follow_redirects = sts.parse_boolean(follow_redirects, what="follow_redirects")
        self.max_response = parse_size(max_response, what="max_response")
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
        self._timeout = httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )
        self._static_body = self._content(None) if not self._body_has_placeholders() else None

    def __repr__(self) -> str:
        return f"<WebhookTask {self.name!r} {self.method} {self.url!r}>"

    # -- the run ----------------------------------------------------------------------------

    async def run(self) -> WebhookResult:
        """Make the call once; raise unless the answer's status is in ``expect``."""
        try:
            run: sts.RunContext | None = sts.current_run()
        except LookupError:
            run = None
        facts = run_facts(run, self.name)
        url = fill(self.url, facts, in_url=True)
        if "${secret:" in url:
            url = self._resolve(url, "url")
            problem = _url_problem(url)
            if problem:  # the message names the option, never the secret URL
                raise WebhookRefused(f"url: the secret it refers to is not a usable URL: {problem}")
        content, content_type = self._static_body or self._content(facts)
        headers = {
            name: self._resolve(fill(value, facts), f"header {name}")
            for name, value in self.headers.items()
        }
        lowered = {name.lower() for name in headers}
        if content_type and "content-type" not in lowered:
            headers["Content-Type"] = content_type
        if "idempotency-key" not in lowered:
            headers["Idempotency-Key"] = facts["idempotency_key"]
        if self.signing_secret is not None:
            secret = self._resolve(self.signing_secret, "signing_secret")
            try:
                key = signing_key(secret)
            except ValueError as error:
                raise WebhookRefused(f"signing_secret: {error}") from None
            headers.update(signature_headers(key, facts["idempotency_key"], content or b""))
        pool = shared_pool()
        client = pool.get(self.client_settings) if pool is not None else None
        if client is None:  # awaited outside a scheduler: a client for this call alone
            async with make_client(self.client_settings) as own:
                return await self._call(own, run, url, headers, content)
        return await self._call(client, run, url, headers, content)

    async def _call(
        self,
        client: httpx.AsyncClient,
        run: sts.RunContext | None,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
    ) -> WebhookResult:
        request = client.build_request(
            self.method,
            url,
            params=self._params,
            headers=headers,
            content=content,
            timeout=self._timeout,
            extensions={EXTENSION: self.destinations},
        )
        where = f"{request.url.scheme}://{request.url.netloc.decode('ascii', 'replace')}"
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
        if run is not None:
            run.output["status"] = f"{status} {reason}".strip()
            run.output["elapsed"] = f"{elapsed:.3f}s"
            if total:
                run.output["response"] = text
        if status in self.expect:
            return WebhookResult(status, reason, elapsed, text)
        answered = f"{self.method} {where} answered {status} {reason}".rstrip()
        excerpt = _first_line(text)
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response)
            after = f" (Retry-After: {wait:g}s)" if wait else ""
            raise WebhookServerError(f"{answered}{after}{excerpt}", status=status, seconds=wait)
        raise WebhookRejected(f"{answered}, not retried{excerpt}", status=status)

    # -- building the request ---------------------------------------------------------------

    def _body_has_placeholders(self) -> bool:
        if self.json is not _ABSENT:
            return has_placeholder(self.json)
        if self.body is not None:
            return has_placeholder(self.body)
        if self.form is not None:
            return any(has_placeholder(value) for _, value in self.form)
        return False

    def _content(self, facts: Mapping[str, str] | None) -> tuple[bytes | None, str | None]:
        """The body's bytes (signed as sent) and its content type."""
        if self.json is not _ABSENT:
            value = self.json if facts is None else fill_json(self.json, facts)
            text = jsonlib.dumps(value, separators=(",", ":"), ensure_ascii=False)
            return text.encode(), "application/json"
        if self.body is not None:
            text = self.body if facts is None else fill(self.body, facts)
            return text.encode(), "text/plain; charset=utf-8"
        if self.form is not None:
            pairs = self.form if facts is None else [(k, fill(v, facts)) for k, v in self.form]
            return urlencode(pairs).encode(), "application/x-www-form-urlencoded"
        return None, None

    @staticmethod
    def _resolve(text: str, where: str) -> str:
        if "${secret:" not in text:
            return text
        try:
            return sts.resolve_secrets(text)
        except sts.SecretError as error:
            raise WebhookRefused(f"{where}: {error}") from None


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f": {line[:200]}" if line else ""


def _check_url(url: str) -> str:
    """``url``, checked now; one holding a secret is checked once resolved, at run time."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"invalid url {url!r}: expected an http:// or https:// URL")
    url = url.strip()
    if "${secret:" not in url:
        problem = _url_problem(fill(url, dict.fromkeys(NAMES, "x")))
        if problem:
            raise ValueError(f"invalid url {url!r}: {problem}")
    return url


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

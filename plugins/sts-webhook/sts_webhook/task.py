"""``WebhookTask``: an HTTP call as a task, retried correctly, signed, never twice by accident.

Every request carries the run's idempotency key (``Idempotency-Key``, the same on every
retry of one fire), so a receiver that honours it acts once per fire. Answers 5xx and 429,
and calls that got no answer, fail the attempt in a way the job's retries apply to
(waiting at least the server's ``Retry-After``); any other status outside ``expect`` fails
the run at once.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

import sts

from .options import parse_headers, parse_json, parse_method, parse_pairs
from .placeholders import fill, fill_json, has_placeholder
from .sender import Sender, WebhookResult, check_url, resolve_headers, resolve_url

__all__ = ["WebhookResult", "WebhookTask"]

_ABSENT: Any = object()


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
        self.url = check_url(url)
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
        self.sender = Sender(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            expect=expect,
            follow_redirects=follow_redirects,
            max_response=max_response,
            signing_secret=signing_secret,
            allow_hosts=allow_hosts,
            deny_private=deny_private,
            ca=ca,
            http2=http2,
        )
        self._static_body = None if self._body_has_placeholders() else self._content(None)

    def __repr__(self) -> str:
        return f"<WebhookTask {self.name!r} {self.method} {self.url!r}>"

    # -- the run ----------------------------------------------------------------------------

    async def run(self) -> WebhookResult:
        """Make the call once; raise unless the answer's status is in ``expect``."""
        try:
            run: sts.RunContext | None = sts.current_run()
        except LookupError:
            run = None
        facts = sts.run_facts(self.name)
        url = resolve_url(fill(self.url, facts, in_url=True))
        content, content_type = self._static_body or self._content(facts)
        headers = resolve_headers(
            {name: fill(value, facts) for name, value in self.headers.items()}
        )
        if content_type and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = content_type
        params = None
        if self.params:
            params = httpx.QueryParams(tuple((k, fill(v, facts)) for k, v in self.params))
        return await self.sender.send(
            self.method,
            url,
            headers=headers,
            content=content,
            message_id=facts["idempotency_key"],
            params=params,
            output=None if run is None else run.output,
        )

    # -- the body ---------------------------------------------------------------------------

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

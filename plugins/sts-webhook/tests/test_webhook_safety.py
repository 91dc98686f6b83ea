"""Signatures a receiver verifies with the standardwebhooks library; TLS with a private CA;
destination rules (deny_private, allow_hosts), redirects included."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from sts_webhook import WebhookTask
from webhook_helpers import Reply, ScriptedServer, TLSServer, run_once

import sts

LOCAL = "127.0.0.1"
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


def test_the_signature_verifies_with_standardwebhooks_and_a_tampered_body_fails(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STS_WEBHOOK_TEST_SIGNING", SECRET)
    task = WebhookTask(
        server.url,
        json={"event": "tick", "job": "{job}"},
        signing_secret="${secret:STS_WEBHOOK_TEST_SIGNING}",
        allow_hosts=LOCAL,
    )
    record, _ = asyncio.run(run_once(task))
    assert record.outcome is sts.Outcome.SUCCEEDED
    (seen,) = server.seen
    headers = {k: v for k, v in seen.headers.items() if k.startswith("webhook-")}
    assert headers["webhook-id"] == seen.headers["idempotency-key"]
    receiver = Webhook(SECRET)
    assert receiver.verify(seen.body, headers) == {"event": "tick", "job": "WebhookTask"}
    tampered = seen.body.replace(b"tick", b"tock")
    with pytest.raises(WebhookVerificationError):
        receiver.verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another key").decode()).verify(seen.body, headers)
    assert SECRET not in repr(record)


def test_a_retry_is_signed_again_with_the_same_id(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STS_WEBHOOK_TEST_SIGNING", SECRET)
    server.reply(Reply(500), Reply(200))
    task = WebhookTask(
        server.url,
        json=[1, 2],
        signing_secret="${secret:STS_WEBHOOK_TEST_SIGNING}",
        allow_hosts=LOCAL,
    )
    asyncio.run(run_once(task, retries=1, backoff="10ms"))
    ids = {seen.headers["webhook-id"] for seen in server.seen}
    assert len(server.seen) == 2 and len(ids) == 1
    for seen in server.seen:
        Webhook(SECRET).verify(seen.body, {k: v for k, v in seen.headers.items()})


def test_a_signing_secret_that_is_not_base64_fails_without_showing_it(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STS_WEBHOOK_TEST_SIGNING", "not base64 at all!")
    task = WebhookTask(
        server.url, signing_secret="${secret:STS_WEBHOOK_TEST_SIGNING}", allow_hosts=LOCAL
    )
    record, history = asyncio.run(run_once(task, retries=2))
    assert len(history) == 1 and not server.seen
    assert record.error is not None and "not a Standard Webhooks secret" in record.error
    assert "not base64 at all!" not in record.error
    with pytest.raises(ValueError, match="not a Standard Webhooks secret"):
        WebhookTask(server.url, signing_secret="plain-text")


def test_tls_works_with_the_servers_ca_and_fails_clearly_without(tls_server: TLSServer) -> None:
    server = tls_server.server
    trusted = WebhookTask(server.url, ca=str(tls_server.ca_file), allow_hosts=LOCAL)
    record, _ = asyncio.run(run_once(trusted))
    assert record.outcome is sts.Outcome.SUCCEEDED and len(server.seen) == 1
    untrusted = WebhookTask(server.url, allow_hosts=LOCAL)
    record, history = asyncio.run(run_once(untrusted, retries=3))
    assert len(history) == 1  # a certificate does not fix itself within a backoff
    assert record.error is not None
    assert record.error.startswith(
        f"WebhookRefused: the TLS certificate of {server.url} did not verify "
        f"(unable to get local issuer certificate); if the server uses a private CA, give "
        f"its certificate with ca = /path/to/ca.pem"
    )
    assert len(server.seen) == 1  # the second call never got through


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("localhost", "localhost resolves to 127.0.0.1, which is a loopback address"),
    ],
)
def test_deny_private_refuses_loopback_by_address_and_by_name(
    server: ScriptedServer, host: str, says: str
) -> None:
    task = WebhookTask(f"http://{host}:{server.port}/hook")
    record, history = asyncio.run(run_once(task, retries=3))
    assert not server.seen and len(history) == 1
    assert record.error == (
        f"DestinationRefused: refused http://{host}:{server.port}: {says}, and deny_private = "
        f"true refuses loopback, private and link-local addresses; list the host in "
        f"allow_hosts to call it"
    )


@pytest.mark.parametrize("allow", ["127.0.0.1", "localhost", "127.0.0.0/8", "local*"])
def test_allow_hosts_admits_a_listed_private_host(server: ScriptedServer, allow: str) -> None:
    task = WebhookTask(f"http://localhost:{server.port}/hook", allow_hosts=allow)
    record, _ = asyncio.run(run_once(task))
    assert record.outcome is sts.Outcome.SUCCEEDED and len(server.seen) == 1


def test_deny_private_false_calls_anything(server: ScriptedServer) -> None:
    task = WebhookTask(server.url, deny_private=False)
    record, _ = asyncio.run(run_once(task))
    assert record.outcome is sts.Outcome.SUCCEEDED


def test_a_host_outside_allow_hosts_is_refused(server: ScriptedServer) -> None:
    task = WebhookTask(server.url, allow_hosts="hooks.example.com, *.example.org")
    record, _ = asyncio.run(run_once(task))
    assert not server.seen
    assert record.error == (
        f"DestinationRefused: refused {server.url}: the host 127.0.0.1 is not in allow_hosts "
        f"(hooks.example.com, *.example.org)"
    )


def test_a_redirect_is_checked_like_the_first_request(server: ScriptedServer) -> None:
    server.reply(Reply(302, {"Location": f"http://127.0.0.2:{server.port}/internal"}))
    task = WebhookTask(server.url, follow_redirects=True, allow_hosts=LOCAL)
    record, _ = asyncio.run(run_once(task))
    assert [seen.path for seen in server.seen] == ["/"]  # the redirect was not followed
    assert record.error == (
        f"DestinationRefused: refused http://127.0.0.2:{server.port}: the host 127.0.0.2 is "
        f"not in allow_hosts (127.0.0.1)"
    )
    open_task = WebhookTask(server.url, follow_redirects=True, deny_private=False)
    server.reply(Reply(302, {"Location": f"http://localhost:{server.port}/internal"}))
    record, _ = asyncio.run(run_once(open_task))
    assert record.outcome is sts.Outcome.SUCCEEDED and server.seen[-1].path == "/internal"


def test_bad_allow_hosts_entries_are_named() -> None:
    with pytest.raises(ValueError, match=r"allow_hosts entry 2 \('http://x:80'\)"):
        WebhookTask("https://example.com/", allow_hosts="example.com, http://x:80")
    with pytest.raises(ValueError, match=r"allow_hosts entry 1 \('10.0.0.0/33'\)"):
        WebhookTask("https://example.com/", allow_hosts="10.0.0.0/33")


def test_the_receiver_example_in_the_docs_verifies_a_real_request(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = Path(__file__).parents[3] / "docs" / "plugins" / "webhook.md"
    text = page.read_text().split("<!-- verify-example -->", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 12
    namespace: dict[str, Any] = {}
    exec(compile(code, str(page), "exec"), namespace)
    verify = namespace["verify"]
    monkeypatch.setenv("STS_WEBHOOK_TEST_SIGNING", SECRET)
    task = WebhookTask(
        server.url,
        body="hello",
        signing_secret="${secret:STS_WEBHOOK_TEST_SIGNING}",
        allow_hosts=LOCAL,
    )
    asyncio.run(run_once(task))
    (seen,) = server.seen
    assert verify(SECRET, seen.headers, seen.body)
    assert not verify(SECRET, seen.headers, seen.body + b"!")
    assert not verify(SECRET, {**seen.headers, "webhook-timestamp": "1000000000"}, seen.body)

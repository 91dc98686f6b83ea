"""Webhook calls against a real HTTP server on loopback: the request as sent, retries of
5xx, 429 and silent servers (waiting for Retry-After), no retry of other 4xx."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from sts_webhook import WebhookResult, WebhookTask
from webhook_helpers import Reply, ScriptedServer, run_on_virtual_clock, run_once

import sts

LOCAL = "127.0.0.1"


def test_a_json_post_carries_the_run_facts_and_the_idempotency_key(
    server: ScriptedServer,
) -> None:
    task = WebhookTask(
        server.url + "/hooks/{job}?fire={fire_time}",
        json={
            "job": "{job}",
            "run": "{run_id}",
            "key": "{idempotency_key}",
            "literal": "{{job}}",
            "quote": 'say "{job}"',
        },
        headers={"X-Run": "{run_id}"},
        allow_hosts=LOCAL,
    )
    record, _ = asyncio.run(run_once(task))
    assert record.outcome is sts.Outcome.SUCCEEDED
    (seen,) = server.seen
    fire = record.fire_time.isoformat()
    key = f"WebhookTask@{record.fire_time.astimezone(UTC).isoformat()}"
    assert seen.method == "POST"
    path = urlsplit(seen.path)
    assert unquote(path.path) == "/hooks/WebhookTask"
    assert parse_qs(path.query) == {"fire": [fire]}  # the "+" of the offset survived
    assert json.loads(seen.body) == {
        "job": "WebhookTask",
        "run": record.run_id,
        "key": key,
        "literal": "{job}",
        "quote": 'say "WebhookTask"',
    }
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["idempotency-key"] == key
    assert seen.headers["x-run"] == record.run_id
    assert record.output == {
        "status": "200 OK",
        "elapsed": record.output["elapsed"],
        "response": "ok",
    }


def test_503_503_200_succeeds_on_attempt_3_after_waiting_for_retry_after(
    server: ScriptedServer,
) -> None:
    server.reply(
        Reply(503, {"Retry-After": "7"}, b"busy"),
        Reply(503, {"Retry-After": "9"}, b"still busy"),
        Reply(200, body=b"done"),
    )
    task = WebhookTask(server.url, json={"n": 1}, allow_hosts=LOCAL)
    record, history, _ = run_on_virtual_clock(task, retries=3, backoff="1s", backoff_jitter=0)
    assert record.outcome is sts.Outcome.SUCCEEDED and record.attempt == 3
    assert [r.outcome for r in history] == ["failed", "failed", "succeeded"]
    waits = [(r.retry_at - r.finished_at).total_seconds() for r in history[:2]]  # type: ignore[operator]
    assert waits == [7.0, 9.0]  # not the backoff's 1 and 2
    starts = [r.started_at for r in history]
    assert (starts[1] - starts[0]).total_seconds() >= 7  # type: ignore[operator]
    assert history[0].error == (
        f"WebhookServerError: POST {server.url} answered 503 Service Unavailable "
        f"(Retry-After: 7s): busy"
    )
    assert history[0].output["status"] == "503 Service Unavailable"
    assert history[0].output["response"] == "busy"
    keys = {seen.headers["idempotency-key"] for seen in server.seen}
    assert len(server.seen) == 3 and len(keys) == 1  # one key for every try of the fire


def test_429_with_an_http_date_retry_after_waits_until_that_date(server: ScriptedServer) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    server.reply(
        Reply(
            429,
            {
                "Date": format_datetime(now, usegmt=True),
                "Retry-After": format_datetime(now + timedelta(seconds=120), usegmt=True),
            },
            b"slow down",
        ),
        Reply(204, body=b""),
    )
    task = WebhookTask(server.url, body="ping", allow_hosts=LOCAL)
    record, history, _ = run_on_virtual_clock(task, retries=2, backoff="1s", backoff_jitter=0)
    assert record.outcome is sts.Outcome.SUCCEEDED and record.attempt == 2
    first = history[0]
    assert first.retry_at is not None and first.finished_at is not None
    assert (first.retry_at - first.finished_at).total_seconds() == 120.0
    assert "429 Too Many Requests (Retry-After: 120s)" in (first.error or "")


def test_a_retry_after_longer_than_max_backoff_is_capped(server: ScriptedServer) -> None:
    server.reply(Reply(503, {"Retry-After": "86400"}), Reply(200))
    task = WebhookTask(server.url, allow_hosts=LOCAL)
    record, history, _ = run_on_virtual_clock(task, retries=1, max_backoff="90s")
    first = history[0]
    assert (first.retry_at - first.finished_at).total_seconds() == 90.0  # type: ignore[operator]
    assert record.outcome is sts.Outcome.SUCCEEDED


def test_404_fails_on_attempt_1_and_is_never_retried(server: ScriptedServer) -> None:
    server.default = Reply(404, body=b"no such hook\nsecond line")
    task = WebhookTask(server.url + "/missing", allow_hosts=LOCAL)
    record, history, _ = run_on_virtual_clock(task, retries=5)
    assert len(server.seen) == 1 and len(history) == 1
    assert record.outcome is sts.Outcome.FAILED and record.attempt == 1
    assert record.retry_at is None
    assert record.error == (
        f"WebhookRejected: POST {server.url} answered 404 Not Found, not retried: no such hook"
    )
    assert record.output["status"] == "404 Not Found"
    assert record.output["response"] == "no such hook\nsecond line"


def test_a_read_timeout_is_retried(server: ScriptedServer) -> None:
    server.reply(Reply(200, hold=30), Reply(200, body=b"second"))
    task = WebhookTask(server.url, read_timeout="5s", allow_hosts=LOCAL)
    record, history, _ = run_on_virtual_clock(task, retries=1, backoff="1s")
    assert [r.outcome for r in history] == ["failed", "succeeded"]
    assert history[0].error == (
        f"WebhookUnreachable: no answer from {server.url} within read_timeout (5s)"
    )
    assert record.output["response"] == "second"


def test_a_refused_connection_is_retried_then_fails_with_a_clear_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind((LOCAL, 0))
        port = probe.getsockname()[1]
    task = WebhookTask(f"http://{LOCAL}:{port}/hook", allow_hosts=LOCAL)
    record, history, _ = run_on_virtual_clock(task, retries=2, backoff="1s")
    assert [r.outcome for r in history] == ["failed"] * 3
    assert record.attempt == 3 and record.retry_at is None
    assert record.error == (
        f"WebhookUnreachable: could not connect to http://{LOCAL}:{port}: connection refused "
        f"(ECONNREFUSED)"
    )


def test_expect_and_a_redirect_not_followed(server: ScriptedServer) -> None:
    server.reply(Reply(302, {"Location": "/elsewhere"}), Reply(202))
    redirected = WebhookTask(server.url, allow_hosts=LOCAL)
    record, history = asyncio.run(run_once(redirected, retries=3))
    assert len(history) == 1 and "302 Found, not retried" in (record.error or "")
    accepted = WebhookTask(server.url, expect="202", allow_hosts=LOCAL)
    record, _ = asyncio.run(run_once(accepted))
    assert record.outcome is sts.Outcome.SUCCEEDED


def test_redirects_are_followed_when_asked(server: ScriptedServer) -> None:
    server.reply(Reply(307, {"Location": "/moved"}), Reply(200, body=b"moved here"))
    task = WebhookTask(server.url + "/first", follow_redirects=True, allow_hosts=LOCAL)
    record, _ = asyncio.run(run_once(task))
    assert record.outcome is sts.Outcome.SUCCEEDED
    assert [seen.path for seen in server.seen] == ["/first", "/moved"]
    assert server.seen[1].body == server.seen[0].body  # 307 keeps method and body


def test_only_max_response_bytes_of_the_answer_are_kept(server: ScriptedServer) -> None:
    server.default = Reply(500, body=b"x" * 5000 + b"THE END")
    task = WebhookTask(server.url, max_response="100", allow_hosts=LOCAL)
    record, _ = asyncio.run(run_once(task))
    assert record.output["response"] == "x" * 93 + "THE END"


def test_one_client_per_scheduler_reused_and_closed_on_stop(server: ScriptedServer) -> None:
    from sts_webhook.clients import shared_pool

    task = WebhookTask(server.url, allow_hosts=LOCAL)
    clients: list[httpx.AsyncClient] = []

    async def main() -> None:
        async with sts.TaskScheduler(name="webhook-pool") as scheduler:
            job = scheduler.schedule(task, sts.IntervalTrigger("1d"))
            for _ in range(3):
                await asyncio.wrap_future(scheduler.run_now(job))
            pool = shared_pool()
            assert pool is not None
            clients.extend(pool.get(task.sender.client_settings).clients)
            assert len(clients) == 1 and not clients[0].is_closed

    asyncio.run(main())
    assert len({seen.client for seen in server.seen}) == 1  # one kept-alive connection
    assert clients[0].is_closed  # closed once the scheduler stopped


def test_calls_beyond_the_pool_wait_in_the_plugin_on_single_connection_clients(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a slow server, calls beyond the connections wait in the plugin (O(1) each),
    never in httpcore's queue, and no httpcore pool holds more than one connection: each
    start and end of a request costs httpcore O(connections x (idle + waiting)), which
    stalled the loop at 1,000 calls/s with one pool of 200."""
    from httpcore._async.connection_pool import AsyncConnectionPool
    from sts_webhook import clients

    monkeypatch.setattr(clients, "MAX_CONNECTIONS", 20)
    most_waiting = 0
    assign = AsyncConnectionPool._assign_requests_to_connections

    def counting(pool: AsyncConnectionPool) -> Any:
        nonlocal most_waiting
        waiting = sum(1 for request in pool._requests if request.is_queued())
        most_waiting = max(most_waiting, waiting)
        return assign(pool)

    monkeypatch.setattr(AsyncConnectionPool, "_assign_requests_to_connections", counting)
    server.default = Reply(hold=0.2)
    task = WebhookTask(server.url, allow_hosts=LOCAL)

    async def main() -> list[WebhookResult]:
        async with sts.TaskScheduler(name="webhook-gate"):
            first = await asyncio.gather(*(task.run() for _ in range(60)))
            again = await asyncio.gather(*(task.run() for _ in range(20)))
            return first + again

    results = asyncio.run(main())
    assert [result.status for result in results] == [200] * 80
    assert len(server.seen) == 80
    assert most_waiting <= 1  # the request being placed; none left waiting inside
    # 20 connections, all used, then kept alive and reused by the next 20 calls.
    assert len({seen.client for seen in server.seen}) == 20

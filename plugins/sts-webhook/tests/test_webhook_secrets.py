"""Secrets in headers and URLs: sent to the server, never in a log line, a run record, or
what ``sts config`` and ``sts history`` show."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from cli_helpers import sts_environment, wait_for
from sts_webhook import WebhookTask
from webhook_helpers import Reply, ScriptedServer, run_once

SECRET = "tok-8c1d5e7f9a2b4c6d"


def test_a_header_secret_reaches_the_server_but_no_log_and_no_record(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("STS_WEBHOOK_TEST_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    # The server echoes the headers back, in an error answer: the record keeps that tail.
    server.default = Reply(500, echo=True)
    task = WebhookTask(
        server.url + "/hook",
        headers="Authorization: Bearer ${secret:STS_WEBHOOK_TEST_TOKEN}\nX-Job: {job}",
        allow_hosts="127.0.0.1",
    )
    record, history = asyncio.run(run_once(task, retries=1, backoff="10ms"))
    assert [seen.headers["authorization"] for seen in server.seen] == [f"Bearer {SECRET}"] * 2
    assert record.output["response"].startswith("Host: 127.0.0.1")
    assert "Authorization: Bearer ********" in record.output["response"]
    assert all(SECRET not in repr(r) for r in history)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert any(r.name == "httpx" for r in caplog.records)  # httpx's own lines were captured
    assert SECRET not in logged and SECRET not in caplog.text
    assert SECRET not in repr(task.__dict__)


def test_a_secret_url_is_masked_in_httpx_logs(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Slack's incoming-webhook URLs are secrets: the path is the credential.
    monkeypatch.setenv("STS_WEBHOOK_TEST_URL", server.url + "/services/T0/B0/" + SECRET)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    server.default = Reply(404)
    task = WebhookTask("${secret:STS_WEBHOOK_TEST_URL}", allow_hosts="127.0.0.1")
    record, _ = asyncio.run(run_once(task))
    assert server.seen[0].path == "/services/T0/B0/" + SECRET
    assert record.error is not None and SECRET not in record.error
    assert "HTTP Request: POST ********" in caplog.text
    assert SECRET not in caplog.text


def test_httpcores_child_loggers_are_masked_too(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A filter on "httpcore" does not see what its children log: each needs its own.
    monkeypatch.setenv("STS_WEBHOOK_TEST_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    server.default = Reply(200)
    task = WebhookTask(
        server.url + "/hook",
        headers="Authorization: Bearer ${secret:STS_WEBHOOK_TEST_TOKEN}",
        allow_hosts="127.0.0.1",
    )
    asyncio.run(run_once(task))
    for name in ("httpcore.http11", "httpcore.connection", "httpcore.http2"):
        logging.getLogger(name).debug("send_request_headers.started headers=%s", SECRET)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("httpcore.")]
    assert lines.count("send_request_headers.started headers=********") == 3
    assert SECRET not in caplog.text


def test_secrets_stay_out_of_a_real_sts_process(server: ScriptedServer, tmp_path: Path) -> None:
    with sts_environment(tmp_path) as env:
        env.env["WEBHOOK_TOKEN"] = SECRET
        env.write(
            "sts.ini",
            f"""
[job:ping]
type = webhook
schedule = every 1h
url = {server.url}/ping/{{job}}
headers = Authorization: Bearer ${{secret:WEBHOOK_TOKEN}}
    X-Fire: {{fire_time}}
json = {{"job": "{{job}}", "key": "{{idempotency_key}}"}}
allow_hosts = 127.0.0.1
max_response = 1KiB
""",
        )
        server.default = Reply(503, echo=True)
        process = env.start("--config", "sts.ini", "--log-level", "DEBUG", "run", "--name", "hooks")
        wait_for(env.socket("hooks").exists, what="the control socket", process=process)
        triggered = env.run("--config", "sts.ini", "--name", "hooks", "trigger", "ping", "--wait")
        assert triggered.returncode == 1, triggered.stderr  # the run failed: 503
        code, out, err = env.stop(process)
        assert code == 0, err
        assert server.seen[0].headers["authorization"] == f"Bearer {SECRET}"
        assert "job=ping" in err and "503 Service Unavailable" in err  # the logs are there
        shown = env.run("--config", "sts.ini", "--name", "hooks", "config")
        assert shown.returncode == 0 and "${secret:WEBHOOK_TOKEN}" in shown.stdout
        history = env.run("--config", "sts.ini", "--name", "hooks", "history", "--json")
        assert history.returncode == 0, history.stderr
        records = json.loads(history.stdout)
        assert records and "Authorization: Bearer ********" in json.dumps(records)
        outputs = (triggered.stdout, triggered.stderr, out, err, shown.stdout, shown.stderr)
        for text in (*outputs, history.stdout, history.stderr):
            assert SECRET not in text

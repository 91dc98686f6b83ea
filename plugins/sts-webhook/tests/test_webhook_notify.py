"""The notifier scheme ``webhook:``: a failing job posts one JSON and one Slack message after
its retries, a recovery posts one each, the throttle holds repeats back; against a real
server on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from sts_webhook import WebhookTask
from sts_webhook.notifier import SCHEMA, WebhookNotifier
from webhook_helpers import Reply, ScriptedServer, make_clock

import sts

LOCAL = "127.0.0.1"
SLACK_SECRET = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def _notify(server: ScriptedServer) -> dict[str, Any]:
    return {
        "notify": [
            f"webhook:{server.url}/json",
            "webhook:slack+${secret:STS_WEBHOOK_TEST_SLACK}",
        ],
        "notify_options": {"webhook": {"allow_hosts": LOCAL}},
    }


def test_a_failing_job_posts_one_json_and_one_slack_message_then_one_recovery_each(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slack_path = "/services/" + SLACK_SECRET
    monkeypatch.setenv("STS_WEBHOOK_TEST_SLACK", server.url + slack_path)
    server.routes["/job"] = Reply(500, body=b"database is down")
    task = WebhookTask(server.url + "/job", allow_hosts=LOCAL, name="export")
    clock = make_clock()

    async def main() -> None:
        async with sts.TaskScheduler(name="notify-test", clock=clock, timezone="UTC") as s:
            job = s.schedule(task, "every 1d", retries=2, backoff="1s", **_notify(server))
            await asyncio.wrap_future(s.run_now(job))
            await asyncio.sleep(5)  # deliveries run in tasks of their own
            assert len(server.at("/json")) == 1 and len(server.at(slack_path)) == 1
            server.routes["/job"] = Reply(200)
            await asyncio.wrap_future(s.run_now(job))
            await asyncio.sleep(5)

    clock.run(main())
    assert len(server.at("/job")) == 4  # three attempts, then the success
    failure, recovery = (json.loads(seen.body) for seen in server.at("/json"))
    assert failure["schema"] == SCHEMA == "sts.notification/v1"
    assert failure["kind"] == "failure" and failure["job"] == "export"
    assert failure["outcome"] == "failed" and failure["attempt"] == 3
    assert failure["error"].startswith("WebhookServerError: POST") and failure["suppressed"] == 0
    assert failure["output"]["response"] == "database is down"
    assert failure["fire_time_utc"].endswith("+00:00") and failure["host"]
    assert recovery["kind"] == "recovery" and recovery["outcome"] == "succeeded"
    slack_failure, slack_recovery = (json.loads(seen.body) for seen in server.at(slack_path))
    assert slack_failure["text"].startswith("export failed on ")
    (attachment,) = slack_failure["attachments"]
    assert attachment["color"] == "#d40e0d"
    assert {"title": "Job", "value": "export", "short": True} in attachment["fields"]
    assert "database is down" in attachment["text"]
    assert slack_recovery["text"].startswith("export recovered on ")
    for seen in server.at("/json") + server.at(slack_path):
        assert seen.headers["content-type"] == "application/json"
        assert seen.headers["idempotency-key"].startswith("export@")
    assert SLACK_SECRET not in caplog.text


def test_repeated_failures_are_throttled_and_counted(server: ScriptedServer) -> None:
    async def fails() -> None:
        raise RuntimeError("still broken")

    clock = make_clock()

    async def main() -> None:
        async with sts.TaskScheduler(name="notify-throttle", clock=clock, timezone="UTC") as s:
            s.schedule(
                sts.FunctionTask(fails, name="flaky"),
                "every 10m",
                notify=[f"webhook:{server.url}/json"],
                notify_interval="1h",
                notify_options={"webhook": {"allow_hosts": LOCAL}},
            )
            await asyncio.sleep(75 * 60)  # fires at 10, 20, ... 70 minutes: seven failures

    clock.run(main())
    sent = [json.loads(seen.body) for seen in server.at("/json")]
    assert [payload["kind"] for payload in sent] == ["failure", "failure"]
    assert [payload["suppressed"] for payload in sent] == [0, 5]  # 20..60 held back
    assert len({seen.headers["idempotency-key"] for seen in server.at("/json")}) == 2


def test_jobs_failing_together_make_one_slack_message_and_json_as_asked(
    server: ScriptedServer,
) -> None:
    async def fails() -> None:
        raise RuntimeError("database is down")

    clock = make_clock()

    async def main() -> None:
        async with sts.TaskScheduler(name="notify-group", clock=clock, timezone="UTC") as s:
            for number in range(25):
                s.schedule(
                    sts.FunctionTask(fails, name=f"job{number:02d}"),
                    "every 1h",
                    notify=[
                        f"webhook:{server.url}/json",
                        f"webhook:slack+{server.url}/slack",
                    ],
                    notify_options={"webhook": {"allow_hosts": LOCAL}},
                )
            await asyncio.sleep(3600 + 60)

    clock.run(main())
    names = [f"job{number:02d}" for number in range(25)]
    # json: one request each by default (receivers of sts.notification/v1 get what they
    # expect); slack: one message.
    assert sorted(json.loads(seen.body)["job"] for seen in server.at("/json")) == names
    (slack,) = (json.loads(seen.body) for seen in server.at("/slack"))
    assert slack["text"].startswith("job00 failed on ") and slack["text"].endswith("(and 24 more)")
    *details, rest = slack["attachments"]
    assert [a["fields"][0]["value"] for a in details] == names[:20]
    assert rest["title"] == "5 more" and rest["text"].count("\n") == 4
    assert len({seen.headers["idempotency-key"] for seen in server.at("/slack")}) == 1


def test_json_groups_when_group_max_allows(server: ScriptedServer) -> None:
    notifier = WebhookNotifier(f"{server.url}/grouped", allow_hosts=LOCAL, group_max=10)
    assert (notifier.group_max, WebhookNotifier(f"{server.url}/x").group_max) == (10, 1)
    events = [_event(f"job{number}") for number in range(3)]
    asyncio.run(notifier.notify_group(events))
    (seen,) = server.at("/grouped")
    payload = json.loads(seen.body)
    assert payload["schema"] == "sts.notification-group/v1" and payload["count"] == 3
    assert [each["job"] for each in payload["notifications"]] == ["job0", "job1", "job2"]
    assert all(each["schema"] == SCHEMA for each in payload["notifications"])
    assert seen.headers["idempotency-key"] == payload["id"]
    assert payload["id"].startswith("group/3/")


def test_a_signed_notification_and_a_rejecting_receiver(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standardwebhooks.webhooks import Webhook

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    monkeypatch.setenv("STS_WEBHOOK_TEST_SIGNING", secret)
    notifier = WebhookNotifier(
        f"json+{server.url}/signed",
        signing_secret="${secret:STS_WEBHOOK_TEST_SIGNING}",
        allow_hosts=LOCAL,
    )
    event = _event()
    asyncio.run(notifier.notify(event))
    (seen,) = server.at("/signed")
    payload = Webhook(secret).verify(seen.body, seen.headers)
    assert payload["job"] == "backup" and payload["kind"] == "failure"
    server.routes["/gone"] = Reply(410)
    gone = WebhookNotifier(f"{server.url}/gone", allow_hosts=LOCAL)
    with pytest.raises(sts.PermanentError, match="410 Gone, not retried"):
        asyncio.run(gone.notify(event))


def test_bad_targets_and_formats_are_errors_when_the_job_is_scheduled() -> None:
    with pytest.raises(ValueError, match="invalid url 'ftp://x/'"):
        WebhookNotifier("ftp://x/")
    with pytest.raises(ValueError, match="invalid format 'xml'"):
        WebhookNotifier("https://hooks.example.com/", format="xml")  # type: ignore[arg-type]
    assert WebhookNotifier("https://h.example.com/", format="slack").format == "slack"
    assert WebhookNotifier("json+https://h.example.com/", format="slack").format == "json"


def _event(job: str = "backup") -> sts.NotificationEvent:
    from datetime import UTC, datetime

    fire = datetime(2026, 1, 1, 3, tzinfo=UTC)
    record = sts.RunRecord(
        run_id="0123456789abcdef",
        job=job,
        fire_time=fire,
        outcome=sts.Outcome.FAILED,
        attempt=1,
        error="RuntimeError: boom",
    )
    return sts.NotificationEvent(
        job=job,
        kind="failure",
        record=record,
        fire_time=fire,
        fire_time_utc=fire,
        scheduler="sts",
        host="host1",
        channel="webhook:x",
    )


@pytest.mark.parametrize("value", [0, -1, "none", True, 2.5])
def test_group_max_must_be_a_whole_number_of_at_least_1(value: object) -> None:
    with pytest.raises(ValueError, match=r"invalid group_max .*: expected a whole number >= 1"):
        WebhookNotifier("https://example.org/hook", group_max=value)  # type: ignore[arg-type]
    assert WebhookNotifier("https://example.org/hook", group_max="5").group_max == 5  # type: ignore[arg-type]

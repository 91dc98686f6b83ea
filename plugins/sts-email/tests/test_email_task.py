"""The ``email`` task type against a real aiosmtpd server: what arrives, TLS and AUTH,
what is retried and what fails at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from email_server import PASSWORD, USERNAME, StartServer, free_port
from sts_email import EmailTask

import sts
from sts.testing import VirtualClock

START = datetime(2026, 1, 1, tzinfo=UTC)

# The implicit-TLS server allows AUTH without STARTTLS (it is TLS throughout); aiosmtpd
# warns about that setting.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


async def run_once(task: sts.Task, **policy: Any) -> tuple[sts.RunRecord, list[sts.RunRecord]]:
    """Run ``task`` now on a real scheduler; its final record and history, oldest first."""
    async with asyncio.timeout(60):  # a hang fails the test instead of blocking the suite
        async with sts.TaskScheduler(name="mailer") as scheduler:
            job = scheduler.schedule(task, "every 1h", name="report", **policy)
            record = await asyncio.wrap_future(scheduler.run_now(job))
            history = list(reversed(scheduler.store.history(job.name)))
    return record, history


def test_a_message_arrives_with_headers_body_attachment_and_placeholders(
    smtp_server: StartServer, tmp_path: Path
) -> None:
    server = smtp_server()
    report = tmp_path / "report.csv"
    report.write_text("day,count\nmonday,3\n")
    task = EmailTask(
        to=["ada@example.org", "Bob <bob@example.org>"],
        cc=["carol@example.org"],
        bcc=["audit@example.org"],
        subject="[{scheduler}] {job} for {fire_time}",
        body="Run {run_id} of {job} on {scheduler}.\n",
        html="<p>Run <b>{run_id}</b></p>",
        from_="STS <sts@example.org>",
        reply_to="ops@example.org",
        attachments=[report],
        **server.options(),
    )
    record, _ = asyncio.run(run_once(task))
    assert record.outcome is sts.Outcome.SUCCEEDED, record.error
    [mail] = server.mailbox.messages
    message = mail.message
    assert mail.mail_from == "sts@example.org"
    assert sorted(mail.recipients) == [
        "ada@example.org",
        "audit@example.org",
        "bob@example.org",
        "carol@example.org",
    ]
    assert "Bcc" not in message and b"audit@example.org" not in mail.raw
    fire = record.fire_time
    assert message["Subject"] == f"[mailer] report for {fire.isoformat()}"
    assert message["To"] == "ada@example.org, Bob <bob@example.org>"
    assert message["Cc"] == "carol@example.org"
    assert message["Reply-To"] == "ops@example.org"
    assert message["Date"].datetime is not None
    assert message["Message-ID"].endswith("@example.org>")
    key = f"report@{fire.astimezone(UTC).isoformat()}"
    assert message["X-STS-Idempotency-Key"] == key
    assert message["X-STS-Run-Id"] == record.run_id
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and text.get_content() == f"Run {record.run_id} of report on mailer.\n"
    assert html is not None and f"<b>{record.run_id}</b>" in html.get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content() == "day,count\nmonday,3\n"
    assert record.output["email"].startswith(f"sent {message['Message-ID']} to 4 recipient(s)")


@pytest.mark.parametrize("problem", ["missing", "too large", "directory"])
def test_a_bad_attachment_fails_at_once_with_a_clear_error(
    smtp_server: StartServer, tmp_path: Path, problem: str
) -> None:
    server = smtp_server()
    path = tmp_path / "report.pdf"
    if problem == "too large":
        path.write_bytes(b"x" * 2048)
    elif problem == "directory":
        path.mkdir()
    task = EmailTask(
        to=["ada@example.org"],
        body="see attached",
        attachments=[path],
        attachment_limit=1024,
        **server.options(),
    )
    record, history = asyncio.run(run_once(task, retries=3, backoff=0.01))
    expected = {
        "missing": f"AttachmentError: attachment not found: {path}",
        "too large": f"AttachmentError: attachments exceed the limit of 1024 bytes at {path}",
        "directory": f"AttachmentError: attachment is a directory, not a file: {path}",
    }[problem]
    assert record.outcome is sts.Outcome.FAILED
    assert record.error is not None and record.error.startswith(expected)
    assert len(history) == 1  # not retried
    assert server.mailbox.messages == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_tls_and_auth_checked_by_the_server(
    smtp_server: StartServer, security: str, mechanism: str
) -> None:
    other = "LOGIN" if mechanism == "PLAIN" else "PLAIN"
    server = smtp_server(security, auth=True, auth_exclude_mechanism=[other])
    task = EmailTask(
        to=["ada@example.org"],
        body="over TLS",
        **server.options(
            security=security, username=USERNAME, password=PASSWORD, ca_file=server.ca_file
        ),
    )
    record, _ = asyncio.run(run_once(task))
    assert record.outcome is sts.Outcome.SUCCEEDED, record.error
    assert server.mailbox.logins == [(mechanism, USERNAME, True)]
    assert len(server.mailbox.messages) == 1


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_wrong_password_fails_at_once_with_the_reply(
    smtp_server: StartServer, security: str
) -> None:
    server = smtp_server(security, auth=True)
    task = EmailTask(
        to=["ada@example.org"],
        body="x",
        **server.options(
            security=security, username=USERNAME, password="wrong-password", ca_file=server.ca_file
        ),
    )
    record, history = asyncio.run(run_once(task, retries=3, backoff=0.01))
    assert record.outcome is sts.Outcome.FAILED and len(history) == 1
    assert record.error is not None
    assert record.error.startswith("SMTPRejected: 127.0.0.1:")
    assert "refused the login: 535" in record.error
    assert server.mailbox.logins[0][2] is False and server.mailbox.messages == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_untrusted_certificate_fails_clearly_not_a_hang(
    smtp_server: StartServer, security: str
) -> None:
    server = smtp_server(security)
    task = EmailTask(to=["ada@example.org"], body="x", **server.options(security=security))
    record, history = asyncio.run(run_once(task, retries=3, backoff=0.01))
    assert record.outcome is sts.Outcome.FAILED and len(history) == 1
    assert record.error is not None
    assert f"the TLS certificate of 127.0.0.1:{server.port} ({security}) is not trusted" in (
        record.error
    )
    assert "ca_file" in record.error
    assert server.mailbox.messages == []


def test_validate_certs_off_accepts_any_certificate(smtp_server: StartServer) -> None:
    server = smtp_server("tls")
    task = EmailTask(
        to=["ada@example.org"], body="x", **server.options(security="tls", validate_certs=False)
    )
    record, _ = asyncio.run(run_once(task))
    assert record.outcome is sts.Outcome.SUCCEEDED, record.error


def test_451_then_250_is_retried_and_succeeds(smtp_server: StartServer) -> None:
    server = smtp_server()
    server.mailbox.data_replies = ["451 4.3.0 Mailbox busy, try again later"]
    task = EmailTask(to=["ada@example.org"], body="x", **server.options())
    record, history = asyncio.run(run_once(task, retries=2, backoff=0.01))
    assert record.outcome is sts.Outcome.SUCCEEDED and record.attempt == 2
    assert [str(r.outcome) for r in history] == ["failed", "succeeded"]
    assert history[0].error == (
        f"SMTPTemporaryError: 127.0.0.1:{server.port} (none) refused the message: "
        f"451 4.3.0 Mailbox busy, try again later (temporary)"
    )
    # The retry is the same message: a receiver that saw the first can drop the second.
    [refused], [accepted] = server.mailbox.rejected, server.mailbox.messages
    for header in ("Message-ID", "X-STS-Idempotency-Key", "Subject"):
        assert refused.message[header] == accepted.message[header]


def test_550_fails_at_once_and_the_record_shows_the_reply(smtp_server: StartServer) -> None:
    server = smtp_server()
    server.mailbox.refused = {"nobody@example.org": "550 5.1.1 No such user here"}
    task = EmailTask(to=["nobody@example.org"], body="x", **server.options())
    record, history = asyncio.run(run_once(task, retries=3, backoff=0.01))
    assert record.outcome is sts.Outcome.FAILED and len(history) == 1
    assert record.error == (
        f"SMTPRejected: 127.0.0.1:{server.port} (none) refused every recipient: "
        f"nobody@example.org: 550 5.1.1 No such user here"
    )


def test_one_refused_recipient_among_others_is_not_retried(smtp_server: StartServer) -> None:
    server = smtp_server()
    server.mailbox.refused = {"nobody@example.org": "550 5.1.1 No such user here"}
    task = EmailTask(to=["ada@example.org", "nobody@example.org"], body="x", **server.options())
    record, history = asyncio.run(run_once(task, retries=3, backoff=0.01))
    # Ada got it: a retry would send it to her again.
    assert record.outcome is sts.Outcome.FAILED and len(history) == 1
    assert record.error is not None and "nobody@example.org: 550 5.1.1" in record.error
    assert [mail.recipients for mail in server.mailbox.messages] == [["ada@example.org"]]


def test_a_server_that_is_down_fails_after_the_retries_and_others_fire_on_time() -> None:
    clock = VirtualClock(autojump_threshold=0.5)
    port = free_port()  # nothing listens there
    task = EmailTask(to=["ada@example.org"], body="x", host="127.0.0.1", port=port, security="none")
    ticks: list[datetime] = []

    async def tick() -> None:
        ticks.append(clock.now())

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=clock, loop_block_threshold=None) as scheduler:
            scheduler.schedule(task, "at 2026-01-01T00:00:05+00:00", name="mail", retries=2)
            scheduler.schedule(sts.FunctionTask(tick), "every 1s", name="tick")
            await asyncio.sleep(30.5)
        return scheduler

    scheduler = clock.run(main())
    history = list(reversed(scheduler.store.history("mail")))
    assert [(str(r.outcome), r.attempt) for r in history] == [
        ("failed", 1),
        ("failed", 2),
        ("failed", 3),
    ]
    assert history[-1].error is not None
    assert history[-1].error.startswith(f"SMTPTemporaryError: cannot send through 127.0.0.1:{port}")
    # The other job fired every second, on the second, meanwhile.
    assert [round((t - START).total_seconds(), 3) for t in ticks] == [
        float(s) for s in range(1, 31)
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"to": []}, "an email needs recipients"),
        ({"to": ["not-an-address"]}, "invalid address 'not-an-address' in to"),
        ({"body": None}, "an email needs a body"),
        ({"subject": "{job} {when}"}, "unknown placeholder {when} in subject: expected {job}"),
        ({"security": "ssl"}, "invalid security 'ssl': expected one of starttls, tls, none"),
        ({"password": "x"}, "a password needs a username"),
        ({"attachment_limit": 0}, "invalid attachment_limit 0"),
    ],
)
def test_bad_options_are_refused_when_the_task_is_made(
    options: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"to": ["ada@example.org"], "body": "x", **options}
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        EmailTask(**arguments)

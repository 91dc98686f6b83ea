"""The ``email:`` notifier against a real aiosmtpd server, on the virtual clock: one mail
per failure after the retries, one per recovery, the throttle and its count, ``missed``,
grouping (one mail for jobs failing together), one connection for a burst, and templates."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from email_server import Server, StartServer
from sts_email import EmailNotifier

import sts
from sts.testing import VirtualClock


class Flaky(sts.Task):
    def __init__(self, name: str = "backup") -> None:
        super().__init__(name=name)
        self.failing = True

    async def run(self) -> None:
        if self.failing:
            raise RuntimeError("disk full")


def notify(server: Server, **options: Any) -> dict[str, Any]:
    return {
        "notify": "email:ops@example.org",
        "notify_options": {"email": server.options(from_="sts@example.org", **options)},
    }


def subjects(server: Server) -> list[str]:
    return [str(mail.message["Subject"]) for mail in server.mailbox.messages]


def test_one_failure_mail_after_two_retries_then_one_recovery_mail(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    clock = VirtualClock(autojump_threshold=0.5)
    task = Flaky()

    async def main() -> None:
        async with sts.TaskScheduler(
            clock=clock, loop_block_threshold=None, name="ops"
        ) as scheduler:
            scheduler.schedule(task, "every 10m", retries=2, backoff="1s", **notify(server))
            await asyncio.sleep(10 * 60 + 30)
            assert len(server.mailbox.messages) == 1  # not one per attempt
            task.failing = False
            await asyncio.sleep(20 * 60)  # two successes: one recovery

    clock.run(main())
    host = socket.gethostname()
    assert subjects(server) == [
        f"[sts] backup failed on {host}: RuntimeError: disk full",
        f"[sts] backup recovered on {host}",
    ]
    failure, recovery = (mail.message for mail in server.mailbox.messages)
    body = failure.get_content()
    assert "event:      failure" in body and "attempt 3" in body
    assert "fire time:  2026-01-01T" in body and "error:      RuntimeError: disk full" in body
    assert failure["To"] == "ops@example.org" and failure["From"] == "sts@example.org"
    assert failure["X-STS-Event"] == "failure" and recovery["X-STS-Event"] == "recovery"
    assert failure["Message-ID"] != recovery["Message-ID"]


def test_ten_failures_in_the_window_send_one_and_the_next_counts_them(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    clock = VirtualClock(autojump_threshold=0.5)

    async def main() -> None:
        async with sts.TaskScheduler(clock=clock, loop_block_threshold=None) as scheduler:
            scheduler.schedule(Flaky(), "every 1m", notify_interval="10m", **notify(server))
            await asyncio.sleep(10 * 60 + 30)  # ten failures: 0:01 .. 0:10
            assert len(server.mailbox.messages) == 1
            await asyncio.sleep(60)  # 0:11: the window of 0:01 is over

    clock.run(main())
    assert len(server.mailbox.messages) == 2
    second = server.mailbox.messages[1].message.get_content()
    assert "suppressed: 9 notification(s) of this job were held back" in second
    assert "suppressed" not in server.mailbox.messages[0].message.get_content()


def test_missed_fires_send_a_mail_when_asked(smtp_server: StartServer) -> None:
    server = smtp_server()
    clock = VirtualClock(autojump_threshold=0.5)

    async def work() -> None:
        pass

    async def main() -> None:
        async with sts.TaskScheduler(clock=clock, loop_block_threshold=None) as scheduler:
            scheduler.schedule(
                sts.FunctionTask(work, name="sync"),
                "every 1m",
                misfire_grace="5s",
                notify_on="failure, missed",
                **notify(server),
            )
            await asyncio.sleep(30)
            clock.jump(3600)  # suspended for an hour
            await asyncio.sleep(60)

    clock.run(main())
    [mail] = server.mailbox.messages
    assert str(mail.message["Subject"]).startswith("[sts] sync missed ")
    assert mail.message["X-STS-Event"] == "missed"


def burst(server: Server, jobs: int, **options: Any) -> None:
    """``jobs`` jobs failing together, each notifying ``server``."""
    clock = VirtualClock(autojump_threshold=0.5)

    async def main() -> None:
        async with sts.TaskScheduler(clock=clock, loop_block_threshold=None) as scheduler:
            for number in range(jobs):
                scheduler.schedule(
                    Flaky(f"job{number:02d}"), "every 1h", **notify(server, **options)
                )
            await asyncio.sleep(3600 + 30)

    clock.run(main())


def test_jobs_failing_together_make_one_mail_that_names_each(smtp_server: StartServer) -> None:
    server = smtp_server()
    burst(server, 25)
    [mail] = (mail.message for mail in server.mailbox.messages)
    host = socket.gethostname()
    assert mail["Subject"] == (
        f"[sts] job00 failed on {host}: RuntimeError: disk full (and 24 more)"
    )
    assert mail["X-STS-Event"] == "group" and mail["X-STS-Count"] == "25"
    names = [f"job{number:02d}" for number in range(25)]
    assert mail["X-STS-Jobs"] == ", ".join(names)
    body = mail.get_content()
    assert body.startswith("25 notifications from ")
    for name in names:
        assert f"- {name} failed on {host}: RuntimeError: disk full\n" in body
    assert body.count("======== ") == 20  # the details of the first 20
    assert "(the details of the other 5: sts history)" in body


def test_a_burst_beyond_group_max_uses_several_mails_on_one_connection(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    burst(server, 25, group_max=10)
    assert [m.message["X-STS-Count"] for m in server.mailbox.messages] == ["10", "10", "5"]
    assert server.mailbox.connections == 1


def test_group_max_1_sends_a_mail_per_notification(smtp_server: StartServer) -> None:
    server = smtp_server()
    burst(server, 25, group_max=1)
    assert len(server.mailbox.messages) == 25
    assert server.mailbox.connections == 1
    assert sorted(str(m.message["X-STS-Job"]) for m in server.mailbox.messages) == [
        f"job{number:02d}" for number in range(25)
    ]


def test_subject_and_body_templates_can_be_overridden(smtp_server: StartServer) -> None:
    server = smtp_server()
    clock = VirtualClock(autojump_threshold=0.5)
    options = notify(
        server,
        notify_subject="ALERT {kind}: {job} ({outcome}) on {scheduler}",
        notify_body="{job} says {error}; attempt {attempt}; {{literal}}\n",
    )

    async def main() -> None:
        async with sts.TaskScheduler(
            clock=clock, loop_block_threshold=None, name="prod"
        ) as scheduler:
            scheduler.schedule(Flaky(), "every 1h", **options)
            await asyncio.sleep(3600 + 30)

    clock.run(main())
    [mail] = server.mailbox.messages
    assert mail.message["Subject"] == "ALERT failure: backup (failed) on prod"
    assert (
        mail.message.get_content() == "backup says RuntimeError: disk full; attempt 1; {literal}\n"
    )


def test_group_max_is_a_whole_number_of_at_least_1() -> None:
    assert EmailNotifier("ops@example.org", group_max="5").group_max == 5  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"invalid group_max 0: expected a whole number >= 1"):
        EmailNotifier("ops@example.org", group_max=0)

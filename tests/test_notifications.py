"""Failure notifications through plugin channels, on the virtual clock: what is news
(failure after retries, recovery, missed), the throttle window and its count, delivery
retries and records, and the errors for bad channels."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from core_helpers import Recorder

import sts
from sts.testing import VirtualClock

START = datetime(2026, 1, 1, tzinfo=UTC)


class Inbox:
    """A test channel: ``test:<target>`` notifications land in ``events``; it can be made
    to fail a number of times first, or for good."""

    def __init__(self) -> None:
        self.events: list[sts.NotificationEvent] = []
        self.targets: list[tuple[str, dict[str, Any]]] = []
        self.fail_times = 0
        self.permanent = False
        self.tries = 0
        self.closed = 0

    def factory(self, target: str, **options: Any) -> Channel:
        if target == "bad":
            raise ValueError("the target 'bad' is refused")
        self.targets.append((target, options))
        return Channel(self, target)


class Channel:
    def __init__(self, inbox: Inbox, target: str) -> None:
        self.inbox = inbox
        self.target = target

    async def notify(self, event: sts.NotificationEvent) -> None:
        self.inbox.tries += 1
        if self.inbox.permanent:
            raise sts.PermanentError("550 no such user")
        if self.inbox.fail_times > 0:
            self.inbox.fail_times -= 1
            raise ConnectionRefusedError("connection refused")
        self.inbox.events.append(event)

    async def aclose(self) -> None:
        self.inbox.closed += 1


def inbox_plugin(box: Inbox) -> object:
    """A plugin registering the scheme ``test:`` that delivers to ``box``."""

    class Plugin:
        @sts.hookimpl
        def sts_register_notifiers(self, register: Callable[..., None]) -> None:
            register("test", box.factory)

    return Plugin()


@pytest.fixture
def inbox(register_plugin: Callable[..., str]) -> Inbox:
    box = Inbox()
    register_plugin(inbox_plugin(box), name="test-notifier")
    return box


class Flaky(sts.Task):
    """Fails while ``failing`` is true."""

    def __init__(self, name: str = "backup") -> None:
        super().__init__(name=name)
        self.failing = True

    async def run(self) -> None:
        if self.failing:
            raise RuntimeError("disk full")


def kinds(inbox: Inbox) -> list[str]:
    return [event.kind for event in inbox.events]


def test_one_failure_after_the_retries_then_one_recovery(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    task = Flaky()

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock, name="ops") as scheduler:
            scheduler.schedule(
                task,
                "every 10m",
                retries=2,
                backoff="1s",
                notify="test:ops",
                timezone="Europe/Berlin",
            )
            await asyncio.sleep(10 * 60 + 30)  # one fire, three attempts
            assert kinds(inbox) == ["failure"]
            task.failing = False
            await asyncio.sleep(10 * 60)  # the next fire succeeds
            await asyncio.sleep(10 * 60)  # and the one after: no news
        return scheduler

    scheduler = virtual_clock.run(main())
    assert kinds(inbox) == ["failure", "recovery"]
    failure, recovery = inbox.events
    assert failure.record.attempt == 3 and failure.record.outcome is sts.Outcome.FAILED
    assert failure.error == "RuntimeError: disk full"
    assert failure.job == "backup" and failure.scheduler == "ops" and failure.host
    assert failure.fire_time_utc == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert failure.fire_time.utcoffset() is not None and failure.fire_time.hour == 1
    assert failure.channel == "test:ops" and failure.suppressed == 0
    assert failure.summary == f"backup failed on {failure.host}: RuntimeError: disk full"
    assert "attempt 3" in failure.describe()
    assert recovery.record.outcome is sts.Outcome.SUCCEEDED
    assert inbox.closed == 1  # aclose at stop
    outcomes = {str(r.outcome) for r in scheduler.store.history("backup", limit=100)}
    assert outcomes == {"failed", "succeeded"}  # notifications change no outcome


def test_repeats_within_the_interval_are_counted_and_reported(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(
                Flaky(), "every 1m", notify=["test:a", "test:b"], notify_interval="10m"
            )
            # Fires at 1..10 min: the first is sent, nine are held back on each channel.
            await asyncio.sleep(10 * 60 + 1)
            assert kinds(inbox) == ["failure", "failure"]
            # 11 min: one minute past the window of the first: sent, saying nine.
            await asyncio.sleep(60)

    virtual_clock.run(main())
    by_channel: dict[str, list[tuple[datetime, int]]] = {}
    for event in inbox.events:
        by_channel.setdefault(event.channel, []).append((event.fire_time_utc, event.suppressed))
    expected = [
        (datetime(2026, 1, 1, 0, 1, tzinfo=UTC), 0),
        (datetime(2026, 1, 1, 0, 11, tzinfo=UTC), 9),
    ]
    assert by_channel == {"test:a": expected, "test:b": expected}
    assert "suppressed: 9" in inbox.events[-1].describe()


def test_the_throttle_window_is_per_job(virtual_clock: VirtualClock, inbox: Inbox) -> None:
    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(Flaky("one"), "every 1m", notify="test:x")
            scheduler.schedule(Flaky("two"), "every 1m", notify="test:x")
            await asyncio.sleep(59 * 60 + 30)  # 59 fires each, all within the default 1 h

    virtual_clock.run(main())
    assert sorted(event.job for event in inbox.events) == ["one", "two"]


def test_a_flapping_job_sends_at_most_one_recovery_per_window_and_never_ends_on_it(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    task = Flaky()

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(task, "every 1m", notify="test:x", notify_interval="1h")
            await asyncio.sleep(30)
            for _ in range(30):  # fails at odd minutes, succeeds at even ones, to 0:30
                await asyncio.sleep(60)
                task.failing = not task.failing
            task.failing = False
            await asyncio.sleep(40 * 60)  # to 1:10:30, all fine
            task.failing = True
            await asyncio.sleep(60)  # 1:11: a new failure after the recovery

    virtual_clock.run(main())
    seen = [
        (event.kind, event.fire_time_utc.hour, event.fire_time_utc.minute, event.suppressed)
        for event in inbox.events
    ]
    assert seen == [
        ("failure", 0, 1, 0),
        ("recovery", 0, 2, 0),  # resets the failure throttle: the next failure is news
        ("failure", 0, 3, 0),
        # 0:04-0:30: recoveries held within the window of 0:02's (the last word stays
        # "failing"), failures held within that of 0:03's; the first success past the
        # window sends the held recovery with its count.
        ("recovery", 1, 2, 14),
        ("failure", 1, 11, 13),  # news after a recovery, however soon
    ]


def test_a_failure_after_a_missed_notification_is_told_and_so_is_its_recovery(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    task = Flaky()
    task.failing = False

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(
                task,
                "every 1m",
                misfire_grace="5s",
                notify="test:x",
                notify_on="failure, recovery, missed",
            )
            await asyncio.sleep(30)
            virtual_clock.jump(600)  # the machine slept: fires are missed
            await asyncio.sleep(60)
            task.failing = True
            await asyncio.sleep(5 * 60)
            task.failing = False
            await asyncio.sleep(60)

    virtual_clock.run(main())
    assert kinds(inbox) == ["missed", "failure", "recovery"]


def test_missed_fires_notify_only_when_asked(virtual_clock: VirtualClock, inbox: Inbox) -> None:
    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(
                Recorder(virtual_clock, name="asked"),
                "every 1m",
                misfire_grace="5s",
                notify="test:x",
                notify_on="failure, missed",
            )
            scheduler.schedule(
                Recorder(virtual_clock, name="not-asked"),
                "every 1m",
                misfire_grace="5s",
                notify="test:x",
            )
            await asyncio.sleep(30)
            virtual_clock.jump(600)  # the machine slept: ten fires of each are late
            await asyncio.sleep(60)

    virtual_clock.run(main())
    assert [(event.job, event.kind) for event in inbox.events] == [("asked", "missed")]
    assert inbox.events[0].record.missed_count >= 10
    assert inbox.events[0].summary.startswith("asked missed ")


def test_a_failed_delivery_is_retried_then_recorded_and_logged_once(
    virtual_clock: VirtualClock, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    inbox.fail_times = 1000  # the channel is down for good

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            for number in range(3):
                scheduler.schedule(Flaky(f"job{number}"), "every 1h", notify="test:down")
            await asyncio.sleep(3600 + 300)
        return scheduler

    with caplog.at_level(logging.DEBUG, logger="sts"):
        scheduler = virtual_clock.run(main())
    assert inbox.tries == 3 * 4  # each: the first try and three retries
    warnings = [r for r in caplog.records if "not delivered" in r.getMessage()]
    assert [r.levelno for r in warnings].count(logging.WARNING) == 1
    assert all(r.exc_info is None for r in warnings)  # no traceback storm
    for number in range(3):
        history = scheduler.store.history(f"job{number}", limit=10)
        [undelivered] = [r for r in history if r.outcome is sts.Outcome.NOTIFY_FAILED]
        [failed] = [r for r in history if r.outcome is sts.Outcome.FAILED]
        assert undelivered.output == {"run": failed.run_id, "channel": "test:down"}
        assert undelivered.error == (
            "failure notification to test:down not delivered after 4 attempt(s): "
            "ConnectionRefusedError: connection refused"
        )
        assert undelivered.run_id != failed.run_id


def test_a_delivery_that_fails_twice_then_works_is_sent_once(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    inbox.fail_times = 2

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(Flaky(), "every 1h", notify="test:x")
            await asyncio.sleep(3600 + 60)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert inbox.tries == 3 and kinds(inbox) == ["failure"]
    assert all(
        r.outcome is not sts.Outcome.NOTIFY_FAILED for r in scheduler.store.history("backup")
    )


def test_a_permanent_delivery_error_is_not_retried(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    inbox.permanent = True

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(Flaky(), "every 1h", notify="test:x")
            await asyncio.sleep(3600 + 60)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert inbox.tries == 1
    [record] = [
        r for r in scheduler.store.history("backup") if r.outcome is sts.Outcome.NOTIFY_FAILED
    ]
    assert record.error is not None and "PermanentError: 550 no such user" in record.error


def test_a_slow_channel_never_delays_the_fires(virtual_clock: VirtualClock, inbox: Inbox) -> None:
    class Slow(Channel):
        async def notify(self, event: sts.NotificationEvent) -> None:
            await asyncio.sleep(50)  # a mail server taking its time, per notification
            await super().notify(event)

    inbox.factory = lambda target, **options: Slow(inbox, target)  # type: ignore[method-assign]
    on_time = Recorder(virtual_clock, name="on-time")

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            for number in range(20):
                scheduler.schedule(
                    Flaky(f"f{number}"), "every 1s", notify="test:x", notify_interval=0
                )
            scheduler.schedule(on_time, "every 1s")
            await asyncio.sleep(30.5)

    virtual_clock.run(main())
    lateness = [(start - START).total_seconds() % 1 for start in on_time.starts]
    assert len(on_time.starts) == 30 and max(lateness) < 0.01
    assert len(inbox.events) >= 20 * 5  # sent meanwhile, each taking 50 s


def test_an_unknown_scheme_names_the_installed_ones_and_the_plugin(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    # Without installed plugins (sts-email may be installed here), with the test channel.
    plugins = sts.create_plugins(load_entry_points=False)
    plugins.register(inbox_plugin(inbox))
    scheduler = sts.TaskScheduler(clock=virtual_clock, plugins=plugins)
    with pytest.raises(sts.PluginError) as raised:
        scheduler.schedule(Flaky(), "every 1m", notify="email:ops@example.org")
    message = str(raised.value)
    assert "no notifier scheme 'email' is installed" in message
    assert "test" in message and "Install the plugin 'sts-email'" in message
    with pytest.raises(sts.PluginError, match=r"installed: .*test"):
        scheduler.schedule(Flaky("other"), "every 1m", notify="pager:42")
    assert scheduler.jobs == []  # nothing half-scheduled


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"notify": "ops@example.org"}, "expected <scheme>:<target>"),
        ({"notify": "test:x", "notify_on": "failure, sometimes"}, "invalid notify_on 'sometimes'"),
        ({"notify": "test:x", "notify_interval": "soon"}, "invalid notify_interval 'soon'"),
        ({"notify": "test:bad"}, "invalid notify channel 'test:bad': the target 'bad' is"),
        ({"notify": "test:x", "notify_options": "host=x"}, "invalid notify_options"),
    ],
)
def test_bad_notification_policies_are_refused_when_scheduled(
    virtual_clock: VirtualClock, inbox: Inbox, policy: dict[str, Any], message: str
) -> None:
    scheduler = sts.TaskScheduler(clock=virtual_clock)
    with pytest.raises(ValueError, match=message):
        scheduler.schedule(Flaky(), "every 1m", **policy)


def test_options_reach_the_factory_and_equal_channels_share_a_notifier(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    scheduler = sts.TaskScheduler(clock=virtual_clock)
    options = {"test": {"host": "smtp.example.org", "port": 2525}}
    scheduler.schedule(Flaky("a"), "every 1m", notify="test:x", notify_options=options)
    scheduler.schedule(Flaky("b"), "every 1m", notify="test:x", notify_options=options)
    scheduler.schedule(Flaky("c"), "every 1m", notify="test:x")
    assert inbox.targets == [("x", {"host": "smtp.example.org", "port": 2525}), ("x", {})]


def test_a_task_class_can_carry_its_notification_policy(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    class Nightly(Flaky):
        notify = "test:class"
        notify_on = "failure"

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(Nightly(), "every 1h")
            await asyncio.sleep(3600 + 1)

    virtual_clock.run(main())
    assert [(event.channel, event.kind) for event in inbox.events] == [("test:class", "failure")]


def test_schedulers_without_notifications_add_no_listener(virtual_clock: VirtualClock) -> None:
    scheduler = sts.TaskScheduler(clock=virtual_clock)
    scheduler.schedule(Flaky(), "every 1m")
    assert scheduler._notifier.listeners == []


def test_a_job_failing_before_a_restart_recovers_after_it(
    virtual_clock: VirtualClock, inbox: Inbox
) -> None:
    """The failing state comes back from the store: the first success after a restart is
    a recovery, told to the channel that heard of the failure."""
    task = Flaky()
    store = sts.MemoryStore()

    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock, store=store) as scheduler:
            scheduler.schedule(task, "every 10m", notify="test:ops")
            await asyncio.sleep(10 * 60 + 30)
        assert kinds(inbox) == ["failure"]
        task.failing = False
        restarted = sts.TaskScheduler(clock=virtual_clock, store=store)
        restarted.schedule(task, "every 10m", notify="test:ops")
        async with restarted:
            await asyncio.sleep(10 * 60)

    virtual_clock.run(main())
    assert kinds(inbox) == ["failure", "recovery"]


class GroupingChannel(Channel):
    """A channel that takes groups (``notify_group``), each delivery taking 2 s."""

    group_wait = 30.0
    group_max = 100

    def __init__(self, inbox: Inbox, target: str) -> None:
        super().__init__(inbox, target)
        self.groups: list[list[str]] = []

    async def notify(self, event: sts.NotificationEvent) -> None:
        await self.notify_group([event])

    async def notify_group(self, events: Sequence[sts.NotificationEvent]) -> None:
        self.inbox.tries += 1
        await asyncio.sleep(2)
        if self.inbox.permanent:
            raise sts.PermanentError("550 no such user")
        self.groups.append([event.job for event in events])
        self.inbox.events.extend(events)


def hourly_from(seconds: float) -> sts.IntervalTrigger:
    """Every hour, the first fire ``seconds`` after the test's start."""
    return sts.IntervalTrigger(3600, anchor=START + timedelta(seconds=seconds))


@pytest.fixture
def grouping(inbox: Inbox) -> list[GroupingChannel]:
    made: list[GroupingChannel] = []

    def factory(target: str, **options: Any) -> GroupingChannel:
        channel = GroupingChannel(inbox, target)
        channel.group_wait = float(options.get("group_wait", 30.0))
        channel.group_max = int(options.get("group_max", 100))
        made.append(channel)
        return channel

    inbox.factory = factory  # type: ignore[method-assign]
    return made


def test_notifications_ready_within_the_group_wait_go_in_one_delivery(
    virtual_clock: VirtualClock, inbox: Inbox, grouping: list[GroupingChannel]
) -> None:
    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            for number in range(25):  # fail at 1..25 s: within the first one's 30 s wait
                scheduler.schedule(
                    Flaky(f"job{number:02d}"), hourly_from(number + 1), notify="test:x"
                )
            # After the group left (at 31 s, sent by 33 s): the next group.
            scheduler.schedule(Flaky("late"), hourly_from(40), notify="test:x")
            await asyncio.sleep(120)

    virtual_clock.run(main())
    [channel] = grouping
    assert channel.groups == [[f"job{number:02d}" for number in range(25)], ["late"]]
    assert inbox.tries == 2


def test_a_group_takes_what_became_ready_while_the_last_was_sent_at_most_group_max(
    virtual_clock: VirtualClock, inbox: Inbox, grouping: list[GroupingChannel]
) -> None:
    async def main() -> None:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            for number in range(7):  # one failure every 0.5 s; each delivery takes 2 s
                scheduler.schedule(
                    Flaky(f"job{number}"),
                    hourly_from(1 + number / 2),
                    notify="test:x",
                    notify_options={"test": {"group_wait": 0, "group_max": 3}},
                )
            await asyncio.sleep(60)

    virtual_clock.run(main())
    [channel] = grouping
    # job0 alone (nothing else was ready); the rest queued behind it, three at most a time.
    assert channel.groups == [["job0"], ["job1", "job2", "job3"], ["job4", "job5", "job6"]]


def test_an_undeliverable_group_is_recorded_for_each_of_its_jobs(
    virtual_clock: VirtualClock, inbox: Inbox, grouping: list[GroupingChannel]
) -> None:
    inbox.permanent = True

    async def main() -> sts.TaskScheduler:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            for number in range(3):
                scheduler.schedule(Flaky(f"job{number}"), "every 1h", notify="test:x")
            await asyncio.sleep(3600 + 60)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert inbox.tries == 1  # one message, refused for good
    for number in range(3):
        [record] = [
            r
            for r in scheduler.store.history(f"job{number}")
            if r.outcome is sts.Outcome.NOTIFY_FAILED
        ]
        assert record.error == (
            "failure notification to test:x not delivered after 1 attempt(s): "
            "PermanentError: 550 no such user (3 notifications were in the message)"
        )


def test_a_stop_sends_what_waits_for_its_group_at_once(
    virtual_clock: VirtualClock, inbox: Inbox, grouping: list[GroupingChannel]
) -> None:
    async def main() -> float:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            scheduler.schedule(Flaky(), "every 1h", notify="test:x")
            await asyncio.sleep(3600 + 5)  # the failure waits for its group (30 s)
            stopping = virtual_clock.timestamp()
        return virtual_clock.timestamp() - stopping

    stop_took = virtual_clock.run(main())
    assert kinds(inbox) == ["failure"]
    assert stop_took < 5  # sent at once (2 s), not after the rest of the 30 s wait


def test_a_notifier_with_group_max_1_delivers_each_side_by_side(
    virtual_clock: VirtualClock, inbox: Inbox, grouping: list[GroupingChannel]
) -> None:
    async def main() -> float:
        async with sts.TaskScheduler(clock=virtual_clock) as scheduler:
            for number in range(5):
                scheduler.schedule(
                    Flaky(f"job{number}"),
                    hourly_from(1),
                    notify="test:x",
                    notify_options={"test": {"group_max": 1}},
                )
            await asyncio.sleep(1.5)
            assert inbox.events == []
            await asyncio.sleep(2)  # each delivery takes 2 s: all five at once
            return len(inbox.events)

    assert virtual_clock.run(main()) == 5
    assert all(len(group) == 1 for group in grouping[0].groups)


def test_a_stop_that_cuts_a_group_short_records_each_notification_once(
    virtual_clock: VirtualClock, inbox: Inbox, grouping: list[GroupingChannel]
) -> None:
    async def main() -> sts.TaskScheduler:
        scheduler = sts.TaskScheduler(clock=virtual_clock, stop_grace="0.5s")
        async with scheduler:
            for number in range(5):  # job0 goes alone; the others queue behind it (2 s)
                scheduler.schedule(
                    Flaky(f"job{number}"),
                    hourly_from(1 + number / 10),
                    notify="test:x",
                    notify_options={"test": {"group_wait": 0, "group_max": 2}},
                )
            await asyncio.sleep(1.7)
        return scheduler

    scheduler = virtual_clock.run(main())
    assert inbox.events == []
    for number in range(5):
        [record] = [
            r
            for r in scheduler.store.history(f"job{number}")
            if r.outcome is sts.Outcome.NOTIFY_FAILED
        ]
        assert record.error is not None
        assert record.error.endswith("cancelled: the scheduler stopped")
        # job0 was being sent (1 try); the others never left the queue (0 tries).
        assert record.attempt == (1 if number == 0 else 0)


def test_a_stop_gives_deliveries_its_own_grace_even_if_a_plugin_breaks_on_stopping(
    virtual_clock: VirtualClock, register_plugin: Callable[..., str]
) -> None:
    class Slow:
        async def notify(self, event: sts.NotificationEvent) -> None:
            await asyncio.sleep(3600)  # a hung mail server

    class Plugins:
        @sts.hookimpl
        def sts_register_notifiers(self, register: Callable[..., None]) -> None:
            register("slow", lambda target, **options: Slow())

        @sts.hookimpl
        def sts_scheduler_stopping(self, scheduler: sts.TaskScheduler) -> None:
            raise RuntimeError("a plugin that breaks as the scheduler stops")

    register_plugin(Plugins(), name="slow-and-broken")

    async def main() -> float:
        scheduler = sts.TaskScheduler(clock=virtual_clock, stop_grace="60s")
        await scheduler.start()
        scheduler.schedule(Flaky(), hourly_from(1), notify="slow:x")
        await asyncio.sleep(2)  # failed; its notification is under way, and hangs
        stopping = virtual_clock.timestamp()
        await scheduler.stop(grace="0.5s")
        return virtual_clock.timestamp() - stopping

    took = virtual_clock.run(main())
    assert 0.5 <= took < 1.5, took  # not the 60 s of stop_grace

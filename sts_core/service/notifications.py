"""Telling people that a job failed, recovered or missed fires, through the channels that
plugins register (``sts_register_notifiers``: ``email:``, ``webhook:``).

A scheduler whose jobs notify has one :class:`Notifications` (the service's built-in
plugin makes it when such a job is scheduled, restores it as the scheduler starts and
closes it as it stops). It listens to the scheduler's finished runs (so schedulers without
notifications pay nothing), decides which ones are news, throttles repeats per job and
channel the way Alertmanager's ``repeat_interval`` does, and delivers each notification in
a task of its own: the fire loop never waits for a mail server, and a delivery never
changes a run's outcome. A delivery that keeps failing is logged once and kept in the run
history as a ``notify_failed`` record.

A notifier that can say several things at once (``notify_group``) gets them grouped, the
way Alertmanager groups alerts: what is ready for its channel within its ``group_wait`` of
the first, or while a message to it is being sent, goes in one message. A thousand jobs
failing together (the database is down) make one mail, not a thousand, and cost the
scheduler one delivery instead of a thousand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from ..notifications import NotificationEvent, Notifier, NotifierFactory, host_name
from ..notify_policy import FAILURE, MISSED, RECOVERY, NotifyPolicy, split_channel
from ..plugins import PluginError
from ..policy import PermanentError
from ..records import Outcome, RunRecord
from ..redaction import redact
from ..runner import error_line, new_run_id

if TYPE_CHECKING:
    from ..job import Job
    from ..scheduler import TaskScheduler

logger = logging.getLogger("sts")

#: Tries of one delivery after the first, and the wait before the first retry (doubled
#: each time): a mail server restarting for a minute does not lose the notification.
DELIVERY_RETRIES = 3
DELIVERY_BACKOFF = 5.0
#: How long one try may take before it counts as failed (a notifier's own timeouts
#: should be shorter; this one only keeps a hung channel from holding a task forever).
DELIVERY_TIMEOUT = 120.0
#: At most this many notifications in one grouped message, unless the notifier says.
DEFAULT_GROUP_MAX = 100
CANCELLED = "cancelled: the scheduler stopped"

_FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMED_OUT})
#: How many of a job's latest records the start reads to find its last final outcome
#: (skipped, missed and undelivered records in between do not count).
RESTORE_DEPTH = 20


class Notifications:
    """The notification channels of one scheduler, their throttles and deliveries."""

    def __init__(self, scheduler: TaskScheduler) -> None:
        # A proxy: the scheduler holds this (its listener), and must stay collectable.
        self._scheduler = cast("TaskScheduler", weakref.proxy(scheduler))
        #: (channel, options) -> notifier: jobs that notify the same way share one.
        self._notifiers: dict[tuple[str, tuple[tuple[str, Any], ...]], Notifier] = {}
        self._listening = False
        self._failing: set[str] = set()
        # Per (job, channel, kind): when one was last sent and how many were held back since;
        # per (job, channel): whether the last word was "failing", and whether a recovery
        # was held back (sent at a later success once its window is over).
        self._last_sent: dict[tuple[str, str, str], float] = {}
        self._suppressed: dict[tuple[str, str, str], int] = {}
        self._told_failing: set[tuple[str, str]] = set()
        self._recovery_held: set[tuple[str, str]] = set()
        self._deliveries: set[asyncio.Task[None]] = set()
        #: id(notifier) -> what waits to go in its next group (notifiers with notify_group).
        self._grouping: dict[int, list[NotificationEvent]] = {}
        #: Couriers waiting out their group_wait: a stop wakes them to send at once.
        self._waiting_couriers: set[asyncio.Future[None]] = set()
        self._complaining: set[str] = set()
        self._closing = False

    # -- channels ---------------------------------------------------------------------------

    def follow(self, job: Job) -> None:
        """Called when ``job`` is scheduled: build its channels now, so that a bad one is
        an error of ``schedule`` and not of the first failure, and start listening.

        :raises sts.PluginError: for a scheme that no installed plugin registers.
        :raises ValueError: for a target or option the scheme's factory refuses.
        """
        policy = job.policy.notify
        if not policy.channels:
            return
        for channel in policy.channels:
            self.notifier(channel, policy)
        if not self._listening:
            self._scheduler.add_listener(self._on_event)
            self._listening = True
        if self._scheduler.running:  # else: at the start, once the store is the final one
            self.restore(job)

    def restore(self, job: Job | None = None) -> None:
        """At the start (for every job) and for a job scheduled later: a job whose last
        final run failed is failing still, as it was before a restart, so its first
        success is a recovery, told where the failure was. (The throttle's clock itself
        starts again, as Alertmanager's does.)"""
        store = self._scheduler.store
        for each in self._scheduler.jobs if job is None else [job]:
            policy = each.policy.notify
            if not policy.channels:
                continue
            for record in store.history(each.name, limit=RESTORE_DEPTH):
                if record.outcome in _FAILED_OUTCOMES and record.retry_at is None:
                    self._failing.add(each.name)
                    if FAILURE in policy.on:
                        self._told_failing.update((each.name, c) for c in policy.channels)
                    break
                if record.outcome is Outcome.SUCCEEDED:
                    break

    def notifier(self, channel: str, policy: NotifyPolicy) -> Notifier:
        """The notifier of ``channel`` with the options ``policy`` gives its scheme."""
        scheme, target = split_channel(channel)
        options = policy.options_for(scheme)
        key = (channel, tuple(sorted(options.items())))
        notifier = self._notifiers.get(key)
        if notifier is None:
            notifier = self._notifiers[key] = build_notifier(
                self._scheduler.plugins.notifiers.get, scheme, target, options
            )
        return notifier

    # -- which runs are news ----------------------------------------------------------------

    def _on_event(self, event: str, **facts: Any) -> None:
        if event != "run_finished":
            return
        record: RunRecord = facts["record"]
        try:
            job = self._scheduler.get_job(record.job)
        except KeyError:  # removed while its run went on
            return
        policy = job.policy.notify
        if not policy.channels:
            return
        fresh = record.job in self._failing  # a success now is a recovery, not a retry
        kind = self._kind(record, policy)
        if kind is None:
            return
        for channel in policy.channels:
            self._consider(job, channel, kind, record, policy, fresh)

    def _kind(self, record: RunRecord, policy: NotifyPolicy) -> str | None:
        outcome = record.outcome
        if outcome in _FAILED_OUTCOMES:
            if record.retry_at is not None:  # another attempt follows: not final yet
                return None
            self._failing.add(record.job)
            return FAILURE if FAILURE in policy.on else None
        if outcome is Outcome.SUCCEEDED:
            if record.job in self._failing:
                self._failing.discard(record.job)
                return RECOVERY if RECOVERY in policy.on else None
            if any(job == record.job for job, _ in self._recovery_held):
                return RECOVERY  # a held-back recovery, sent once its window is over
            return None
        if outcome is Outcome.MISSED:
            return MISSED if MISSED in policy.on else None
        return None

    def _consider(
        self,
        job: Job,
        channel: str,
        kind: str,
        record: RunRecord,
        policy: NotifyPolicy,
        fresh: bool,
    ) -> None:
        pair = (job.name, channel)
        key = (job.name, channel, kind)
        if kind == RECOVERY:
            if not fresh and pair not in self._recovery_held:
                return
            # Only where the last word was "failing" (or failures are not notified at
            # all): a failure the throttle held back needs no all-clear.
            if pair not in self._told_failing and FAILURE in policy.on:
                return
        now = self._scheduler.clock.timestamp()
        last = self._last_sent.get(key)
        if last is not None and now - last < policy.interval:
            if fresh or kind != RECOVERY:  # a held-back recovery is counted once
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
            if kind == RECOVERY:
                self._recovery_held.add(pair)
            return
        self._last_sent[key] = now
        if kind == FAILURE:
            self._told_failing.add(pair)
        elif kind == RECOVERY:
            self._told_failing.discard(pair)
            self._recovery_held.discard(pair)
            # Like a resolve in Alertmanager: the next failure is news, not a repeat.
            self._last_sent.pop((job.name, channel, FAILURE), None)
        suppressed = self._suppressed.pop(key, 0)
        self._send(
            self.notifier(channel, policy), self._event(job, channel, kind, record, suppressed)
        )

    def _event(
        self, job: Job, channel: str, kind: str, record: RunRecord, suppressed: int
    ) -> NotificationEvent:
        zone = job.timezone or self._scheduler.timezone
        return NotificationEvent(
            job=job.name,
            kind=kind,
            record=record,
            fire_time=record.fire_time.astimezone(zone),
            fire_time_utc=record.fire_time.astimezone(UTC),
            scheduler=self._scheduler.name,
            host=host_name(),
            channel=channel,
            suppressed=suppressed,
        )

    # -- delivery ---------------------------------------------------------------------------

    def _send(self, notifier: Notifier, event: NotificationEvent) -> None:
        if _group_size(notifier) == 1:
            self._start(self._deliver(notifier, [event]))  # each on its own, side by side
            return
        waiting = self._grouping.get(id(notifier))
        if waiting is not None:  # its courier is waiting or sending: it takes this one too
            waiting.append(event)
            return
        self._grouping[id(notifier)] = [event]
        self._start(self._courier(notifier))

    def _start(self, delivery: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(delivery)
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _courier(self, notifier: Notifier) -> None:
        """Deliver what is grouped for ``notifier``, group after group, until none waits."""
        key = id(notifier)
        wait = float(getattr(notifier, "group_wait", 0.0) or 0.0)
        size = _group_size(notifier)
        try:
            if wait > 0 and not self._closing:
                woken = asyncio.get_running_loop().create_future()
                self._waiting_couriers.add(woken)
                try:
                    await asyncio.wait([woken], timeout=wait)
                finally:
                    self._waiting_couriers.discard(woken)
            while queued := self._grouping[key]:
                group, queued[:] = queued[:size], queued[size:]
                await self._deliver(notifier, group)
        except asyncio.CancelledError:
            for event in self._grouping.get(key, []):
                self._undelivered([event], self._scheduler.clock.now(), 0, CANCELLED)
            raise
        finally:
            del self._grouping[key]

    async def _deliver(self, notifier: Notifier, events: Sequence[NotificationEvent]) -> None:
        started = self._scheduler.clock.now()
        first = events[0]
        attempt = 0
        try:
            while True:
                attempt += 1
                try:
                    async with asyncio.timeout(DELIVERY_TIMEOUT):
                        if len(events) == 1:
                            await notifier.notify(first)
                        else:
                            await notifier.notify_group(events)  # type: ignore[attr-defined]
                except Exception as error:
                    reason = redact(error_line(error))
                    permanent = isinstance(error, PermanentError)
                    if permanent or attempt > DELIVERY_RETRIES or self._closing:
                        self._undelivered(events, started, attempt, reason)
                        return
                    logger.debug(
                        "notification retried: job=%s (of %d) channel=%s attempt=%d error=%s",
                        first.job,
                        len(events),
                        first.channel,
                        attempt,
                        reason,
                    )
                    await asyncio.sleep(DELIVERY_BACKOFF * 2 ** (attempt - 1))
                    continue
                if first.channel in self._complaining:
                    self._complaining.discard(first.channel)
                    logger.info("notification channel works again: %s", first.channel)
                logger.debug(
                    "notification sent: job=%s kind=%s (%d in the message)",
                    first.job,
                    first.kind,
                    len(events),
                )
                return
        except asyncio.CancelledError:
            self._undelivered(events, started, attempt, CANCELLED)
            raise

    def _undelivered(
        self,
        events: Sequence[NotificationEvent],
        started: datetime,
        attempts: int,
        reason: str,
    ) -> None:
        """Each notification of ``events`` is recorded ``notify_failed`` in its job's
        history (a group is named in each record: ``1 of 40 in one message``)."""
        finished = self._scheduler.clock.now()
        for event in events:
            error = (
                f"{event.kind} notification to {event.channel} not delivered after "
                f"{attempts} attempt(s): {reason}"
            )
            if len(events) > 1:
                error += f" ({len(events)} notifications were in the message)"
            # Logged once per channel until it works again: a mail server that is down
            # must not flood the log with a line (or a traceback) per failing job.
            level = logging.DEBUG if event.channel in self._complaining else logging.WARNING
            self._complaining.add(event.channel)
            logger.log(level, "job=%s %s", event.job, error)
            self._scheduler.store.record_run(
                RunRecord(
                    run_id=new_run_id(),
                    job=event.job,
                    fire_time=event.record.fire_time,
                    outcome=Outcome.NOTIFY_FAILED,
                    attempt=attempts,
                    started_at=started,
                    finished_at=finished,
                    error=error,
                    output={"run": event.record.run_id, "channel": event.channel},
                )
            )

    async def close(self, grace: float) -> None:
        """At stop: no more retries; wait up to ``grace`` for deliveries under way, cancel
        the rest (each recorded as undelivered), then close every notifier."""
        self._closing = True
        for woken in self._waiting_couriers:  # what waits to be grouped goes now
            if not woken.done():
                woken.set_result(None)
        try:
            if self._deliveries:
                await asyncio.wait(set(self._deliveries), timeout=grace)
            pending = set(self._deliveries)
            for delivery in pending:
                delivery.cancel()
            if pending:
                await asyncio.wait(pending)
            for notifier in self._notifiers.values():
                close = getattr(notifier, "aclose", None)
                if close is None:
                    continue
                try:
                    await close()
                except Exception as error:
                    logger.warning("a notifier failed to close: %s", redact(error_line(error)))
        finally:
            self._closing = False


def _group_size(notifier: Notifier) -> int:
    """How many notifications ``notifier`` takes in one message: its ``group_max`` if it
    defines ``notify_group``, else 1."""
    if not callable(getattr(notifier, "notify_group", None)):
        return 1
    return max(1, int(getattr(notifier, "group_max", DEFAULT_GROUP_MAX)))


def build_notifier(
    lookup: Callable[[str], NotifierFactory], scheme: str, target: str, options: dict[str, Any]
) -> Notifier:
    """``factory(target, **options)`` of ``scheme``, with errors that name the channel.

    :raises sts.PluginError: for a scheme no installed plugin registers.
    :raises ValueError: for a target or an option the factory refuses.
    """
    factory = lookup(scheme)
    try:
        notifier = factory(target, **options)
    except PluginError:
        raise
    except Exception as error:  # a plugin's factory may raise anything on a bad target
        reason = str(error) if isinstance(error, ValueError | TypeError) else error_line(error)
        raise ValueError(f"invalid notify channel '{scheme}:{target}': {redact(reason)}") from None
    if not callable(getattr(notifier, "notify", None)):
        raise PluginError(
            f"the notifier factory of the scheme {scheme!r} returned {notifier!r}, which has "
            f"no 'async def notify(event)'"
        )
    return notifier


_notifications: weakref.WeakKeyDictionary[TaskScheduler, Notifications] = (
    weakref.WeakKeyDictionary()
)


def notifications_of(scheduler: TaskScheduler) -> Notifications:
    """The notifications of ``scheduler``, made on first use."""
    found = _notifications.get(scheduler)
    if found is None:
        found = _notifications[scheduler] = Notifications(scheduler)
    return found


@contextlib.asynccontextmanager
async def notifications_lifespan(scheduler: TaskScheduler) -> AsyncIterator[None]:
    """Around a scheduler's run: what was failing before a restart is failing still; at the
    stop, after the last run, the deliveries under way get the stop's grace."""
    found = _notifications.get(scheduler)
    if found is not None:
        found.restore()
    try:
        yield
    finally:
        found = _notifications.get(scheduler)  # a job that notifies may come after the start
        if found is not None:
            grace = scheduler.stopping_grace
            await found.close(scheduler.stop_grace if grace is None else grace)

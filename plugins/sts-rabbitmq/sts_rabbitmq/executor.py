"""The scheduler's side: the ``rabbitmq`` executor.

Each attempt is published in a persistent message to its pool's quorum queue, with
publisher confirms (dispatched = confirmed by the broker): the attempts that fall due in
the same turn of the loop go in one message (``FIRES_PER_MESSAGE`` at most, and split
between the pool's workers), one publish and one confirm for them all; a lone attempt is a
message of its own. Then the scheduler waits for a
worker to *claim* it and for the worker's *outcome*. The scheduler answers every claim and
so is the one place that decides whether an attempt starts: the first claim gets it, a
first claim past the misfire grace or one for an attempt already recorded is refused, and
a claim of a message the broker *redelivered* (its worker was lost) takes the attempt
over, if that message is the one the holder got (or one copy split from it: see
``_continues``) and the holder has stopped renewing its hold (``leases.py``). An
outcome is recorded once, from the worker that holds the attempt; any other copy is
counted and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

import sts

from .batching import Batcher
from .digest import job_digest
from .leases import TAKEOVER_SILENCE
from .messages import Answer, BadMessage, FireMessage, WorkerMessage
from .remembered import Remembered
from .settings import DEFAULT_URL, RabbitSettings
from .topology import declare_claims, declare_exchanges, declare_outcomes, declare_pool

logger = logging.getLogger("sts.rabbitmq")

#: Channels per publishing role (fires, answers to claims).
LANES = 16
#: The most fires in one message: a burst is several messages, which the broker hands to
#: several workers (and a worker runs the fires of one message at once, up to its
#: concurrency).
FIRES_PER_MESSAGE = 64
#: How often (seconds) the scheduler asks the broker how many workers consume a pool, to
#: split a burst into at least as many messages.
CONSUMERS_REFRESH = 5.0
#: How many recorded attempts are remembered, to tell a duplicate outcome from a stray one.
REMEMBERED = 100_000
#: How long an outcome waits for its record to be durable before it is acked anyway (a
#: store that cannot commit must not hold the outcomes queue forever).
RECORD_WAIT = 60.0
#: How long a scheduler whose claims queue another connection holds tries again (the
#: broker drops a crashed process's connection within two heartbeats, 60 s by default).
LOCKED_RETRY = 150.0

Late = Callable[[str, datetime, int, str, sts.AttemptReport], Awaitable[None]]


def _now() -> datetime:
    return datetime.now(UTC)


def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(eq=False)
class _Pending:
    """An attempt dispatched and not yet recorded."""

    fire: sts.Fire
    deadline: datetime | None
    granted: asyncio.Future[None]
    outcome: asyncio.Future[sts.AttemptReport]
    holder: str | None = None
    #: The holder's process (a worker's random id: two workers may share a name).
    instance: str = ""
    #: The message the holder got the attempt in (its ``x-sts-message``; empty from a
    #: worker of an earlier version).
    source: str = ""
    taken_over: bool = False
    #: Whether the holder said (in a hold) that it started its run: until then it may
    #: wait for one of its slots, and the timeout's backstop does not count.
    started: bool = False
    #: When (``time.monotonic``) the holder last said it holds the attempt (its grant, a
    #: claim asked again, a hold), and when a claim first asked to take it over since.
    renewed: float = 0.0
    #: The consumer's deaf time (``RabbitExecutor._deaf_time``) at ``renewed``.
    deaf_mark: float = 0.0
    challenged: float | None = None
    #: Resolved when another worker takes the attempt over (the backstop counts again);
    #: a new one for each wait (a future, not an Event: no task per attempt to wait on it).
    restarted: asyncio.Future[None] | None = None


class RabbitExecutor:
    """Runs attempts on ``sts worker`` processes through RabbitMQ (``executor = rabbitmq``,
    or ``rabbitmq:POOL`` for the workers started with ``--queue POOL``). Options: those of
    ``[rabbitmq]`` (``RabbitSettings``)."""

    def __init__(
        self,
        scheduler_name: str,
        *,
        url: str = DEFAULT_URL,
        prefix: str = "sts",
        queue: str = "default",
        prefetch: int = 256,
        backstop: str = "30s",
        claim_timeout: str = "10s",
        delivery_limit: int = 5,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> None:
        self.settings = RabbitSettings.build(
            url=url,
            prefix=prefix,
            queue=queue,
            prefetch=prefetch,
            backstop=backstop,
            claim_timeout=claim_timeout,
            delivery_limit=delivery_limit,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
        )
        self.scheduler_name = scheduler_name
        self._pending: dict[tuple[str, int], _Pending] = {}
        self._recorded: Remembered[tuple[str, int]] = Remembered(REMEMBERED)
        # Messages from workers this process failed to handle once (by their body's hash):
        # handed back the first time, dropped the second.
        self._failed_once: Remembered[int] = Remembered(REMEMBERED)
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractChannel | None = None
        # Several channels per role: aiormq writes one publish of a channel at a time,
        # each waiting for its frames to be flushed, so one channel caps the rate at one
        # publish per turn of the event loop.
        self._fires_lanes: list[AbstractExchange] = []
        self._answer_lanes: list[AbstractChannel] = []
        self._turn = itertools.count()
        # Each pool's queue is declared once (the first burst of fires must not declare it
        # once per fire): the declaration under way or done, by pool.
        self._pools: dict[str, asyncio.Task[Any]] = {}
        # By pool: the fires of one turn, published together; and how many workers
        # consume the pool (as the broker last said, and when).
        self._fire_batches: dict[str, Batcher[FireMessage]] = {}
        self._consumers: dict[str, tuple[int, float]] = {}
        self._counting: set[asyncio.Task[None]] = set()
        self._ready = asyncio.Event()
        self._connecting: asyncio.Task[None] | None = None
        # Why this scheduler cannot use the executor, once it gave up (another scheduler of
        # its name holds the claims queue): every attempt is then missed at once.
        self._refused: str | None = None
        # Since when (time.monotonic) this scheduler hears its workers: ``None`` while its
        # connection is down, when a holder's silence says nothing about the holder.
        self._listening_since: float | None = None
        # Outcome messages being handled (unacked, their records awaited). At the
        # prefetch the broker sends no more, so an outcome waiting behind them is not
        # heard: a holder that sent one stops renewing its hold, and its silence while the
        # prefetch is full says nothing. So the time it was full (``_deaf_time``) is taken
        # out of every holder's silence: a store that stalls, or a backlog that keeps it
        # full, stops the count; a full prefetch of a few milliseconds hardly changes it.
        self._in_hand = 0
        self._deaf_total = 0.0
        self._full_since: float | None = None
        self._listen_mark = 0.0  # the deaf time at the last (re)connection
        # By job name: the task and policy the digest was made of (a run's view of its job
        # after a live reload is another object with the same name), and the digest.
        self._digests: dict[str, tuple[object, object, str]] = {}
        #: Counters for operators and tests: ``dispatched`` (attempts), ``fire_messages``
        #: (the messages they went in), ``publish_retries``, ``claims_refused``,
        #: ``takeovers``, ``takeovers_deferred`` (answered "wait": the holder may live),
        #: ``duplicate_outcomes``, ``stray_outcomes``.
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "dispatched",
                "fire_messages",
                "publish_retries",
                "claims_refused",
                "takeovers",
                "takeovers_deferred",
                "duplicate_outcomes",
                "stray_outcomes",
            ),
            0,
        )
        # Records the outcomes of attempts a previous process of this scheduler dispatched.
        self._late: Late | None = None

    @property
    def outcomes_queue(self) -> str:
        return self.settings.outcomes_queue(self.scheduler_name)

    # -- connection -------------------------------------------------------------------------

    async def start(self, late: Late) -> None:
        """Connect in the background: a broker that is down when the scheduler starts is
        the same as one that goes down later (attempts wait for it up to their grace)."""
        self._late = late
        self._connecting = asyncio.get_running_loop().create_task(
            self._connect(), name="sts rabbitmq connect"
        )

    async def _connect(self) -> None:
        delay = 0.5
        locked_since: float | None = None
        while True:
            try:
                connection = await aio_pika.connect_robust(
                    self.settings.resolved_url(),
                    ssl_context=self.settings.ssl_context(),
                    client_properties={"connection_name": f"sts scheduler {self.scheduler_name}"},
                    reconnect_interval=1,
                )
            except Exception as error:
                logger.warning(
                    "rabbitmq: cannot connect (%s); trying again in %.1fs",
                    sts.redact(describe(error)),
                    delay,
                )
            else:
                try:
                    await self._set_up(connection)
                    return
                except aiormq.exceptions.ChannelLockedResource as error:
                    # Another connection holds this scheduler's exclusive claims queue:
                    # a previous process of it the broker has not dropped yet (a crash it
                    # learns of by the heartbeat), or another live scheduler of this name
                    # (a second replica of a group). Tried again for a while only: a
                    # standby that kept trying would take the queue during the first
                    # one's blip and leave that one deaf to its own workers.
                    with contextlib.suppress(Exception):
                        await connection.close()
                    locked_since = locked_since or time.monotonic()
                    if time.monotonic() - locked_since >= LOCKED_RETRY:
                        self._refused = (
                            f"another scheduler named {self.scheduler_name!r} uses the "
                            f"executor ({sts.redact(describe(error))}); one scheduler per "
                            f"name can"
                        )
                        logger.error("rabbitmq: %s: its remote attempts are missed", self._refused)
                        self._ready.set()  # attempts waiting for the broker: missed now
                        return
                    logger.warning(
                        "rabbitmq: the claims queue of scheduler %r is held by another "
                        "connection (a previous process not dropped yet, or another "
                        "scheduler of that name); trying again in %.1fs, for up to %gs",
                        self.scheduler_name,
                        delay,
                        LOCKED_RETRY,
                    )
                except Exception as error:
                    logger.error(
                        "rabbitmq: cannot set up the queues of scheduler %r (%s); trying "
                        "again in %.1fs",
                        self.scheduler_name,
                        sts.redact(describe(error)),
                        delay,
                    )
                    with contextlib.suppress(Exception):
                        await connection.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _set_up(self, connection: AbstractRobustConnection) -> None:
        """Open the channels and declare the queues on a new connection, then listen."""
        self._connection = connection
        # One channel per role: publishing (with confirms; an unroutable fire raises), and
        # consuming the outcomes (with a prefetch).
        publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
        consumer = await connection.channel()
        await consumer.set_qos(prefetch_count=self.settings.prefetch)
        fires, _ = await declare_exchanges(publisher, self.settings)
        self._publisher = publisher
        self._fires_lanes = [fires]
        for _ in range(LANES - 1):
            lane = await connection.channel(publisher_confirms=True, on_return_raises=True)
            self._fires_lanes.append(await lane.get_exchange(fires.name, ensure=False))
        # Claims: answered at once, without confirms (a lost one is asked again). Their
        # queue is exclusive, so declared first: a second scheduler of this name stops
        # here, before it takes any of the first one's outcomes.
        self._answer_lanes = [
            await connection.channel(publisher_confirms=False) for _ in range(LANES)
        ]
        claims = await declare_claims(consumer, self.settings, self.scheduler_name)
        outcomes = await declare_outcomes(consumer, self.settings, self.scheduler_name)
        await outcomes.consume(self._on_message)
        await claims.consume(self._on_claim, no_ack=True)
        logger.info(
            "rabbitmq: connected; outcomes on %s", self.outcomes_queue, extra={"event": "rabbitmq"}
        )
        self._listening_since = time.monotonic()
        self._listen_mark = self._deaf_time(self._listening_since)
        connection.close_callbacks.add(self._on_connection_lost)
        connection.reconnect_callbacks.add(self._on_reconnected)
        self._ready.set()

    def _on_connection_lost(self, *_: object) -> None:
        self._listening_since = None

    def _on_reconnected(self, *_: object) -> None:
        # The handlers of the closed channel were cancelled with it (each gave back its
        # slot); the restored consumer's may fill the new prefetch already: the count
        # and any deaf period stand as they are.
        now = time.monotonic()
        self._listening_since, self._listen_mark = now, self._deaf_time(now)

    async def aclose(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        self._ready.clear()

    # -- an attempt -------------------------------------------------------------------------

    def digest(self, job: sts.Job) -> str:
        known = self._digests.get(job.name)
        if known is None or known[0] is not job.task or known[1] is not job.policy:
            known = self._digests[job.name] = (job.task, job.policy, job_digest(job))
        return known[2]

    async def execute(self, job: sts.Job, fire: sts.Fire) -> sts.AttemptReport:
        key = (fire.idempotency_key, fire.attempt)
        loop = asyncio.get_running_loop()
        deadline = fire.start_deadline(job.policy.misfire_grace)
        pending = _Pending(fire, deadline, loop.create_future(), loop.create_future())
        self._pending[key] = pending
        try:
            problem = await self._dispatch(job, fire, deadline)
            if problem is not None:
                grace = job.policy.misfire_grace
                if self._refused is None:  # else only a deadline ends the publishing
                    problem = f" within misfire_grace ({grace:g}s): {problem}"
                else:
                    problem = f": {problem}"
                return sts.AttemptReport(sts.Outcome.MISSED, error=f"not dispatched{problem}")
            if not await self._granted(pending):
                pool = fire.target or self.settings.queue
                return sts.AttemptReport(
                    sts.Outcome.MISSED,
                    error=f"no worker started it within misfire_grace "
                    f"({job.policy.misfire_grace:g}s): are workers of the queue "
                    f"{self.settings.fires_queue(pool)!r} running?",
                )
            return await self._outcome(job, pending)
        finally:
            del self._pending[key]
            self._recorded.add(key)

    async def _dispatch(
        self, job: sts.Job, fire: sts.Fire, deadline: datetime | None
    ) -> str | None:
        """Publish the fire (with the others of this turn) until the broker confirms it:
        ``None``, or why it could not be before ``deadline``. Retried across broker
        outages, with backoff."""
        pool = fire.target or self.settings.queue
        sent = FireMessage(
            fire.run_id,
            fire.job,
            fire.fire_time,
            fire.attempt,
            fire.manual,
            self.digest(job),
            self.scheduler_name,
            deadline,
            self._expiry(job, deadline),
        )
        delay, problem = 0.1, "no connection to the broker yet"
        while True:
            if self._refused is not None:
                return self._refused
            remaining = None if deadline is None else (deadline - _now()).total_seconds()
            if remaining is not None and remaining <= 0:
                return problem
            try:
                if not self._ready.is_set():
                    problem = "no connection to the broker"
                    await asyncio.wait_for(self._ready.wait(), remaining)
                assert self._fires_lanes and self._publisher is not None
                await self._declared(pool)
                # No shorter bound than the grace: a slow confirm on a live connection is
                # waited for (publishing again would only add load); a lost connection
                # raises at once. A fire given up on may still be published: its claim is
                # refused (the attempt is recorded missed).
                published = self._fires_to(pool).submit(sent)
                await asyncio.wait({published}, timeout=remaining)
                if not published.done():
                    raise TimeoutError
                published.result()
                return None
            except TimeoutError:
                if self._ready.is_set():
                    problem = "the broker did not confirm it before the grace ran out"
            except Exception as error:
                problem = sts.redact(describe(error))
                self._pools.pop(pool, None)  # an unroutable fire: declare the pool again
            self.counts["publish_retries"] += 1
            logger.warning(
                "rabbitmq: could not dispatch job=%s attempt=%d: %s; retrying",
                fire.job,
                fire.attempt,
                problem,
            )
            wait = delay if remaining is None else min(delay, max(remaining, 0.0))
            await asyncio.sleep(wait)
            delay = min(delay * 2, 5.0)

    def _expiry(self, job: sts.Job, deadline: datetime | None) -> datetime | None:
        """Until when a message of this attempt is worth delivering: a run started in time
        (by its deadline) whose worker dies is taken over up to the backstop's limit, so
        the message must outlive the start deadline by ``timeout`` + ``backstop``, or a
        redelivery after the grace would expire in the queue. Without a timeout there is
        no such limit, and the message expires at the start deadline (Limits)."""
        timeout = job.policy.timeout
        if deadline is None or timeout is None:
            return deadline
        return deadline + timedelta(seconds=timeout + self.settings.backstop)

    def _fires_to(self, pool: str) -> Batcher[FireMessage]:
        """The fires of one turn to one pool, in as few messages as the split allows."""
        batcher = self._fire_batches.get(pool)
        if batcher is None:

            async def send(fires: list[FireMessage]) -> None:
                await self._publish_fires(pool, fires)

            def part(count: int) -> int:
                return self._part_size(pool, count)

            batcher = self._fire_batches[pool] = Batcher(send, limit=part)
        return batcher

    def _part_size(self, pool: str, count: int) -> int:
        """How many of ``count`` fires due together go in one message: as many messages
        as the pool has workers (each gets its share at once), more past
        ``FIRES_PER_MESSAGE``."""
        consumers, asked = self._consumers.get(pool, (1, 0.0))
        loop = asyncio.get_running_loop()
        if loop.time() - asked > CONSUMERS_REFRESH and not self._counting:
            self._consumers[pool] = (consumers, loop.time())
            counting = loop.create_task(self._count_consumers(pool))
            self._counting.add(counting)
            counting.add_done_callback(self._counting.discard)
        parts = max(-(-count // FIRES_PER_MESSAGE), min(count, max(consumers, 1)))
        return -(-count // parts)

    async def _count_consumers(self, pool: str) -> None:
        try:
            await self._declare_pool(pool)
        except Exception as error:  # the next burst asks again; meanwhile, the last count
            logger.info("rabbitmq: could not count the workers of pool %s: %s", pool, error)

    async def _publish_fires(self, pool: str, fires: list[FireMessage]) -> None:
        """One message of ``fires``, confirmed by the broker. It expires (dead-lettered by
        the broker) once the last of their expiries passed (``_expiry``): the claim of a
        fire past its start deadline is refused, unless it takes over a run started in
        time."""
        deadlines = [fire.expires for fire in fires]
        expiration: float | None = None
        if all(deadline is not None for deadline in deadlines):
            last = max(deadline for deadline in deadlines if deadline is not None)
            expiration = max((last - _now()).total_seconds(), 0.001)
        first = fires[0]
        key = f"{first.key}#{first.attempt}"
        headers: dict[str, Any] = {
            "x-sts-claims": self.settings.claims_queue(self.scheduler_name),
            # This message's own id (a publish retried is another message): what a
            # takeover must come from (``_continues``).
            "x-sts-message": uuid.uuid4().hex,
        }
        if len(fires) == 1:  # what an operator sees of an expired one in the dead letters
            headers["x-sts-job"], headers["x-sts-attempt"] = first.job, first.attempt
        message = aio_pika.Message(
            FireMessage.encode_batch(fires),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            # A lone fire's id is its idempotency key; several fires', the first one's
            # with how many others.
            message_id=first.key if len(fires) == 1 else f"{first.key}+{len(fires) - 1}",
            correlation_id=key,
            reply_to=self.outcomes_queue,
            expiration=expiration,
            app_id="sts",
            headers=headers,
        )
        lane = self._fires_lanes[next(self._turn) % len(self._fires_lanes)]
        await lane.publish(message, routing_key=pool, mandatory=True, timeout=expiration)
        self.counts["dispatched"] += len(fires)
        self.counts["fire_messages"] += 1

    async def _declared(self, pool: str) -> None:
        """The pool's queue, declared once for all the attempts that ask together."""
        declaring = self._pools.get(pool)
        if declaring is None:
            assert self._publisher is not None and self._fires_lanes
            declaring = asyncio.get_running_loop().create_task(self._declare_pool(pool))
            self._pools[pool] = declaring
        try:
            await asyncio.shield(declaring)
        except Exception:
            if self._pools.get(pool) is declaring:
                del self._pools[pool]  # the next attempt declares it again
            raise

    async def _declare_pool(self, pool: str) -> None:
        assert self._publisher is not None and self._fires_lanes
        queue = await declare_pool(self._publisher, self.settings, pool, self._fires_lanes[0])
        consumers = queue.declaration_result.consumer_count
        self._consumers[pool] = (int(consumers or 0), asyncio.get_running_loop().time())

    async def _granted(self, pending: _Pending) -> bool:
        """Wait for a worker's claim: ``False`` once the misfire deadline passed."""
        remaining = (
            None if pending.deadline is None else (pending.deadline - _now()).total_seconds()
        )
        if remaining is None or remaining > 0:
            # asyncio.wait leaves the future as it is when the time runs out.
            await asyncio.wait({pending.granted}, timeout=remaining)
        return pending.granted.done()

    async def _outcome(self, job: sts.Job, pending: _Pending) -> sts.AttemptReport:
        """Wait for the holder's outcome; past ``timeout`` + ``backstop`` (counted again
        from a takeover and from the run's start, as its holder's holds say; not while the
        holder renews its hold without having started the run: it waits for a slot; and
        with ``backstop`` left to the worker after this scheduler's connection to the
        broker is back) the scheduler records the attempt ``timed_out`` itself. A job
        without a ``timeout`` has no such limit, so the attempt is recorded ``interrupted``
        once its holder counts as lost (``_until_lost``: past the start deadline, silent
        for ``backstop`` + ``TAKEOVER_SILENCE`` while this scheduler was connected) with no
        other worker taking it over: its message expired, and no outcome will come."""
        timeout = job.policy.timeout
        backstop = self.settings.backstop
        limit = None if timeout is None else timeout + backstop
        more: float | None = None  # past the limit, while the scheduler was cut off
        deaf_mark = 0.0  # the consumer's deaf time when the limit's count began
        while True:
            restarted = pending.restarted = asyncio.get_running_loop().create_future()
            outcome: asyncio.Future[Any] = pending.outcome
            wait = limit if timeout is not None else self._until_lost(pending)
            if more is not None:
                wait, more = more, None
            else:
                deaf_mark = self._deaf_time(time.monotonic())
            await asyncio.wait(
                {outcome, restarted}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            if pending.outcome.done():
                return pending.outcome.result()
            if restarted.done():
                continue
            if timeout is None:
                if self._until_lost(pending) != 0.0:  # it renewed its hold, or we were cut off
                    continue
                silent = self._silence(pending, time.monotonic()) or 0.0
                return sts.AttemptReport(
                    sts.Outcome.INTERRUPTED,
                    error=f"worker {pending.holder} was lost: silent for {silent:.0f}s "
                    f"(backstop {backstop:g}s) past the start deadline, and no other worker "
                    f"took the attempt over (without a timeout, its message expired at the "
                    f"start deadline); the scheduler's backstop",
                    worker=pending.holder,
                    redelivered=pending.taken_over,
                )
            assert limit is not None
            if self._listening_since is None or self._full_since is not None:
                more = 1.0  # cut off, or outcomes unread: the outcome may be on its way
                continue
            now = time.monotonic()
            deaf = self._deaf_time(now) - deaf_mark
            if deaf >= 0.05:  # outcomes went unread meanwhile: the limit is longer by that
                more, deaf_mark = deaf, self._deaf_time(now)
                continue
            heard = now - self._listening_since
            if heard < backstop:  # the worker gets backstop to report once we hear again
                more = max(backstop - heard, 0.05)
                continue
            quiet = self._silence(pending, time.monotonic())
            if not pending.started and quiet is not None and quiet < TAKEOVER_SILENCE:
                # Its holder holds it, alive, and has not started it: it waits for a slot
                # (a burst larger than the worker's concurrency). Counted from its start.
                more = 1.0
                continue
            error = TimeoutError()
            return sts.AttemptReport(
                sts.Outcome.TIMED_OUT,
                started_at=None,
                error=f"no outcome from worker {pending.holder} within timeout ({timeout:g}s) "
                f"+ backstop ({self.settings.backstop:g}s): the scheduler's backstop",
                retry=job.policy.retry.should_retry(error, pending.fire.attempt),
                worker=pending.holder,
                redelivered=pending.taken_over,
            )

    def _deaf_time(self, now: float) -> float:
        """Seconds the outcome consumer's prefetch was full, all told, up to ``now``."""
        full = 0.0 if self._full_since is None else now - self._full_since
        return self._deaf_total + full

    def _close_deaf_period(self, now: float) -> None:
        if self._full_since is not None:
            self._deaf_total += now - self._full_since
            self._full_since = None

    def _renewed(self, pending: _Pending, now: float) -> None:
        """Its holder spoke now: its silence counts from here."""
        pending.renewed, pending.deaf_mark = now, self._deaf_time(now)

    def _silence(self, pending: _Pending, now: float) -> float | None:
        """How long the holder of ``pending`` has been silent while this scheduler could
        hear it: since the later of its last word and this scheduler's (re)connection
        (holds sent while it was cut off were lost with its claims queue), less the time
        the outcome consumer's prefetch was full meanwhile (an outcome may have waited
        unread); ``None`` while it is cut off. The one rule behind takeovers, the
        backstop and a lost holder."""
        if self._listening_since is None:
            return None
        if pending.renewed >= self._listening_since:
            since, mark = pending.renewed, pending.deaf_mark
        else:
            since, mark = self._listening_since, self._listen_mark
        return (now - since) - (self._deaf_time(now) - mark)

    def _until_lost(self, pending: _Pending) -> float | None:
        """Seconds until the holder of an attempt of a job without a ``timeout`` counts as
        lost (``0.0``: it does now); ``None`` for never. Lost means: past the start
        deadline (its message expired, so no copy is left to take it over), and silent for
        ``backstop`` + ``TAKEOVER_SILENCE`` (a takeover of a copy still in a claimer's hands
        comes first) while this scheduler was connected to hear its holds."""
        if pending.deadline is None:  # its message never expires: a takeover will come
            return None
        silent = self._silence(pending, time.monotonic())
        if silent is None:  # cut off: silence means nothing; look again soon
            return 1.0
        left = self.settings.backstop + TAKEOVER_SILENCE - silent
        left = max(left, (pending.deadline - _now()).total_seconds())
        return 0.0 if left <= 0 else max(left, 0.05)

    # -- what workers send ------------------------------------------------------------------

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_hand += 1
        if self._in_hand == self.settings.prefetch:
            self._full_since = time.monotonic()  # the broker sends no more for now
        try:
            await self._handle(message)
        except Exception:
            # A bug here must not leave the message unacked forever, nor be silent, nor
            # come back forever (the outcomes queue has no delivery limit): it is handed
            # back once, then dropped.
            # Counted here, not by the broker's redelivered flag: that is also set on every
            # message after a restart of this scheduler or a blip, which is when a
            # reconciled outcome comes in.
            if message.channel.is_closed:
                # Its channel closed under it (the broker hands it out again on the new
                # one): no failure of its own, and nothing to ack or nack it on.
                logger.info("rabbitmq: a worker's message was cut off by a reconnection")
                return
            token = hash(message.body)
            again = token not in self._failed_once
            self._failed_once.add(token)
            logger.exception(
                "rabbitmq: failed to handle a message from a worker; %s",
                "handed back once" if again else "dropped (it failed twice)",
            )
            with contextlib.suppress(Exception):  # its channel may be gone
                await message.nack(requeue=again)
        finally:
            if self._in_hand == self.settings.prefetch:
                self._close_deaf_period(time.monotonic())  # a slot is free
            self._in_hand -= 1

    async def _on_claim(self, message: AbstractIncomingMessage) -> None:
        """A worker's claims (a batch: those of one turn of its loop), answered at once
        with one message."""
        try:
            claims, bad = WorkerMessage.decode_each(message.body)
        except BadMessage as error:
            logger.error("rabbitmq: dropped a claim: %s", error)
            return
        for reason in bad:  # the rest of the batch is answered all the same
            logger.error("rabbitmq: dropped a claim: %s", reason)
        self._renew([hold for hold in claims if hold.kind == "hold"])
        await self._answer(message, [claim for claim in claims if claim.kind == "claim"])

    def _renew(self, holds: list[WorkerMessage]) -> None:
        """Holds of attempts their workers still have: no takeover while they come."""
        now = time.monotonic()
        for hold in holds:
            pending = self._pending.get((hold.key, hold.attempt))
            if pending is not None and (pending.holder, pending.instance, pending.source) == (
                hold.worker,
                hold.instance,
                hold.source,
            ):
                self._renewed(pending, now)
                if hold.started_at is not None and not pending.started:
                    # The run started: the backstop counts timeout + backstop from now.
                    pending.started = True
                    if pending.restarted is not None and not pending.restarted.done():
                        pending.restarted.set_result(None)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        """A worker's outcomes (a batch), acked once every one of them is recorded."""
        try:
            batch, bad = WorkerMessage.decode_each(message.body)
        except BadMessage as error:
            logger.error("rabbitmq: dropped a message on %s: %s", self.outcomes_queue, error)
            await message.reject(requeue=False)
            return
        for reason in bad:  # one bad item does not take the others' outcomes with it
            logger.error("rabbitmq: dropped a message on %s: %s", self.outcomes_queue, reason)
        await self._answer(message, [sent for sent in batch if sent.kind == "claim"])
        outcomes = [self._on_outcome(sent) for sent in batch if sent.kind == "outcome"]
        if len(outcomes) == 1:
            await outcomes[0]
        elif outcomes:
            await asyncio.gather(*outcomes)
        await message.ack()

    def _claim(self, claim: WorkerMessage) -> Answer:
        key = (claim.key, claim.attempt)
        pending = self._pending.get(key)
        if pending is None:
            self.counts["claims_refused"] += 1
            if key in self._recorded:
                return Answer(False, "this attempt is recorded already")
            return Answer(False, "this scheduler does not follow this attempt (it restarted)")
        if pending.outcome.done():
            # Its holder's outcome is in (being recorded): a copy of a message of several
            # fires, handed out again, must not run this one twice.
            self.counts["claims_refused"] += 1
            return Answer(False, "this attempt is recorded already")
        now = time.monotonic()
        if (
            pending.granted.done()
            and pending.holder == claim.worker
            and pending.instance == claim.instance
            and pending.source == claim.source
        ):
            # The holder asking again: its answer was lost, or its grant grew old before
            # it could start (``leases.py``). Still its own, whatever the grace says.
            self._renewed(pending, now)
            return Answer(True)
        if not pending.granted.done():
            # A first start: misfire_grace is about this one only (no worker started the
            # fire in time), never about taking over a run started in time.
            if pending.deadline is not None and _now() > pending.deadline:
                self.counts["claims_refused"] += 1
                return Answer(False, "past its misfire_grace: recorded missed")
            pending.holder, pending.instance = claim.worker, claim.instance
            pending.source = claim.source
            self._renewed(pending, now)
            pending.granted.set_result(None)
            return Answer(True)
        if claim.redelivered and _continues(pending, claim):
            # The broker redelivers once the holder's channel closed: it died, or its
            # connection dropped (a broker restart, a blip, a freeze past the heartbeat)
            # and it runs on. Only a holder silent for TAKEOVER_SILENCE is taken over.
            if pending.challenged is None:
                pending.challenged = now
            heard = self._silence(pending, now)
            silent = 0.0 if heard is None else min(heard, now - pending.challenged)
            if silent < TAKEOVER_SILENCE:
                self.counts["takeovers_deferred"] += 1
                return Answer(
                    False,
                    f"worker {pending.holder} may still hold this attempt: ask again",
                    wait=True,
                )
            self.counts["takeovers"] += 1
            logger.warning(
                "rabbitmq: job attempt %s#%d redelivered: worker %s takes it over from %s "
                "(silent for %.1fs)",
                claim.key,
                claim.attempt,
                claim.worker,
                pending.holder,
                silent,
            )
            pending.holder, pending.instance = claim.worker, claim.instance
            pending.source = claim.source
            pending.challenged = None
            self._renewed(pending, now)
            pending.taken_over, pending.started = True, False
            if pending.restarted is not None and not pending.restarted.done():
                pending.restarted.set_result(None)
            return Answer(True)
        self.counts["claims_refused"] += 1
        if claim.redelivered:
            return Answer(
                False,
                f"a duplicate: worker {pending.holder} has this attempt from another "
                f"message (a copy of this fire split again, or published twice)",
            )
        return Answer(False, f"a duplicate: worker {pending.holder} has this attempt")

    async def _answer(self, message: AbstractIncomingMessage, claims: list[WorkerMessage]) -> None:
        if not claims or not message.reply_to:
            return
        answers = [
            (claim.correlation or message.correlation_id or "", self._claim(claim))
            for claim in claims
        ]
        assert self._answer_lanes
        lane = self._answer_lanes[next(self._turn) % len(self._answer_lanes)]
        try:
            await lane.default_exchange.publish(
                aio_pika.Message(
                    Answer.encode_batch(answers), correlation_id=message.correlation_id
                ),
                routing_key=message.reply_to,
                mandatory=False,
            )
        except Exception as error:  # the worker asks again after its claim_timeout
            logger.warning("rabbitmq: could not answer a claim: %s", describe(error))

    async def _on_outcome(self, sent: WorkerMessage) -> None:
        key = (sent.key, sent.attempt)
        pending = self._pending.get(key)
        if (
            pending is not None
            and (pending.holder, pending.instance) == (sent.worker, sent.instance)
            and not pending.outcome.done()
        ):
            # Acked (by the caller) only once the record is durable: a scheduler killed
            # before that gets the outcome again from the broker, and reconciles it.
            recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def on_recorded() -> None:
                if not recorded.done():
                    recorded.set_result(None)

            report = _report(sent, pending.taken_over)
            report.on_recorded = on_recorded
            pending.outcome.set_result(report)
            try:
                await asyncio.wait_for(recorded, RECORD_WAIT)
            except TimeoutError:
                logger.warning(
                    "rabbitmq: the outcome of %s#%d was not recorded within %gs; acked anyway",
                    sent.key,
                    sent.attempt,
                    RECORD_WAIT,
                )
            return
        if pending is not None or key in self._recorded:
            self.counts["duplicate_outcomes"] += 1
            logger.info(
                "rabbitmq: dropped an outcome of %s#%d from worker %s: recorded already",
                sent.key,
                sent.attempt,
                sent.worker,
            )
            return
        # An attempt a previous process of this scheduler dispatched (it was recorded
        # interrupted when this one started): its outcome is recorded now, once.
        self.counts["stray_outcomes"] += 1
        self._recorded.add(key)  # before the await: a second copy meanwhile is a duplicate
        job, _, fire_time = sent.key.rpartition("@")
        logger.info(
            "rabbitmq: job=%s attempt %d: an outcome (%s, worker %s) of an attempt dispatched "
            "before the scheduler restarted; handed to the scheduler to reconcile",
            job,
            sent.attempt,
            sent.outcome,
            sent.worker,
        )
        if self._late is not None:
            try:
                await self._late(
                    job,
                    datetime.fromisoformat(fire_time),
                    sent.attempt,
                    sent.run_id,
                    _report(sent, False),
                )
            except BaseException:
                # Not recorded: forgotten, so the copy handed back is tried again.
                self._recorded.discard(key)
                raise


def _continues(pending: _Pending, claim: WorkerMessage) -> bool:
    """Whether a redelivered ``claim`` comes from the message the attempt's holder got,
    handed out again: that message itself, redelivered by the broker (its holder's
    channel closed), or a copy of this fire split from it. Not another copy: a worker that
    died while it split a message (after publishing some of its fires alone, before acking
    it) leaves the message to be split again, and two copies of one fire, both redelivered
    ones, to claim it; nor a second message of the same fire (a publish retried after a
    lost confirm). The first such copy to claim holds the attempt, and later takeovers
    come only from its own redeliveries."""
    if not pending.source or not claim.source:
        return True  # a worker of an earlier version: any redelivery, as it was
    return claim.source == pending.source or claim.split_from == pending.source


def _report(sent: WorkerMessage, taken_over: bool) -> sts.AttemptReport:
    output: dict[str, Any] = dict(sent.output)
    return sts.AttemptReport(
        sts.Outcome(str(sent.outcome)),
        started_at=sent.started_at,
        finished_at=sent.finished_at,
        error=sent.error,
        traceback=sent.traceback,
        output=output,
        retry=sent.retry,
        retry_after=sent.retry_after,
        worker=sent.worker,
        redelivered=taken_over or sent.redelivered,
    )

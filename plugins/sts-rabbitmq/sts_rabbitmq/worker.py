"""The worker's side: ``sts worker`` takes fires from its pool's queue and runs them.

A message holds one fire or several (those the scheduler fired in one turn); each fire of
it goes its own way, and the message is acked once every one of them is settled. For each
fire: check it (a job this worker knows, defined the same way: else it goes to
the dead-letter queue with the reason), *claim* it from the scheduler (which answers go,
drop, or wait: another worker may still hold it), hold it (renewed every second while it
is this worker's), run it here under its timeout, publish its outcome (confirmed by the
broker), dead-letter it if it failed for good, and only then ack it. A worker that dies at
any point before the ack leaves the message unacked: the broker redelivers it to another
worker, whose claim takes the attempt over once this one's hold has lapsed (leases.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

import sts

from .acks import Acks
from .batching import Batcher
from .digest import job_digest
from .executor import describe
from .leases import GRANT_FRESH, HOLD_INTERVAL
from .messages import Answer, BadMessage, FireMessage, WorkerMessage
from .remembered import Remembered
from .settings import RabbitSettings
from .topology import declare_exchanges, declare_pool

logger = logging.getLogger("sts.rabbitmq")


def _now() -> datetime:
    return datetime.now(UTC)


#: The header of a fire split from a redelivered message of several.
REDELIVERED = "x-sts-redelivered"
#: A message's own id (set by its publisher), and the one a split copy was split from.
MESSAGE_ID = "x-sts-message"
SPLIT_FROM = "x-sts-split-from"
#: Tests only: a worker that has published this many copies of a message it splits dies
#: at once (``os._exit``), before it acks the message (tests/test_rabbitmq_processes.py).
DIE_MID_SPLIT = "STS_RABBITMQ_TEST_DIE_MID_SPLIT"
DIED_MID_SPLIT = 86
#: Fires a worker holds per run it may run at once: the others are being claimed from the
#: scheduler or reported back (round trips that need no run of their own).
PREFETCH_PER_RUN = 4
#: How long a worker gathers claims to one scheduler before it sends them (one message):
#: a run waits for its claim's answer, so only a little.
CLAIMS_GATHERED = 0.002
#: How long a worker gathers outcomes (one message, one confirm; the scheduler acks it
#: once): nothing waits for an outcome but its record, so a little longer.
OUTCOMES_GATHERED = 0.02
#: How many attempts reported by this worker it remembers, to settle a copy of one handed
#: back to it (a broker restart) without splitting it out again.
REMEMBERED_RUNS = 10_000


def worker_identity() -> str:
    """``host:pid``: who ran an attempt, in its record."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Runs the fires of one pool's queue, ``concurrency`` at a time. It holds up to
    ``PREFETCH_PER_RUN`` times as many (the prefetch): fires being claimed or reported do
    not take a run's place."""

    def __init__(
        self,
        jobs: Iterable[sts.Job],
        settings: RabbitSettings,
        *,
        pool: str | None = None,
        concurrency: int = 4,
        stop_grace: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"invalid concurrency {concurrency!r}: expected a whole number >= 1")
        self.jobs = {job.name: job for job in jobs}
        self.digests = {name: job_digest(job) for name, job in self.jobs.items()}
        self.settings = settings
        self.pool = pool or settings.queue
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self.stop_grace = stop_grace
        self.identity = worker_identity()
        # Who holds an attempt, for the scheduler: the identity is a name, and two
        # workers can share one (containers on one host's network are all pid 1).
        self.instance = uuid.uuid4().hex
        self._answers: dict[str, asyncio.Future[Answer]] = {}
        # Claims and outcomes go out in one message per destination and turn of the loop.
        self._claim_batches: dict[str, Batcher[WorkerMessage]] = {}
        self._outcome_batches: dict[str, Batcher[WorkerMessage]] = {}
        self._answer_queue = f"{settings.prefix}.worker.{self.identity}.{uuid.uuid4().hex[:8]}"
        self._publisher: AbstractChannel | None = None
        self._claimer: AbstractChannel | None = None
        self._dead: AbstractExchange | None = None
        self._fires: AbstractExchange | None = None
        self._runs: set[asyncio.Task[None]] = set()
        self._acks = Acks()
        # Attempts handled here, by (key, attempt): a copy redelivered after a blip of this
        # worker's connection waits for it instead of running it again; the future says
        # whether it was settled (else its delivery was lost before it started, and the
        # copy takes it on). And the attempts reported here lately.
        self._running: dict[tuple[str, int], asyncio.Future[bool]] = {}
        self._reported: Remembered[tuple[str, int]] = Remembered(REMEMBERED_RUNS)
        # The attempts granted to this worker and not yet reported, renewed to their
        # scheduler every HOLD_INTERVAL (leases.py): by attempt, the claims queue and hold.
        self._held: dict[tuple[str, int], tuple[str, WorkerMessage]] = {}
        self._stopping = False
        #: Counters: ``ran``, ``refused`` (to the dead-letter queue), ``dropped`` (the
        #: scheduler said no), ``messages`` (of fires, delivered: one holds several),
        #: ``split`` (messages of several fires handed out again, split into one a fire).
        self.counts = {"ran": 0, "refused": 0, "dropped": 0, "messages": 0, "split": 0}

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set; then let runs under way finish (up to
        ``stop_grace``; the broker redelivers the others)."""
        connection: AbstractRobustConnection = await aio_pika.connect_robust(
            self.settings.resolved_url(),
            ssl_context=self.settings.ssl_context(),
            client_properties={"connection_name": f"sts worker {self.identity}"},
            reconnect_interval=1,
        )
        async with connection:
            publisher = await connection.channel(publisher_confirms=True)
            consumer = await connection.channel()
            await consumer.set_qos(prefetch_count=self.concurrency * PREFETCH_PER_RUN)
            fires, self._dead = await declare_exchanges(publisher, self.settings)
            self._fires = fires
            self._publisher = publisher
            self._claimer = await connection.channel(publisher_confirms=False)
            queue = await declare_pool(consumer, self.settings, self.pool, fires)
            answers = await consumer.declare_queue(
                self._answer_queue, exclusive=True, auto_delete=True
            )
            await answers.consume(self._on_answer, no_ack=True)
            tag = await queue.consume(self._on_fire)
            holding = asyncio.get_running_loop().create_task(self._renew_holds())
            logger.info(
                "worker %s: consuming %s, %d at a time",
                self.identity,
                queue.name,
                self.concurrency,
                extra={"event": "worker_started"},
            )
            if ready is not None:
                ready.set()
            try:
                await stop.wait()
            finally:
                holding.cancel()
            self._stopping = True
            await queue.cancel(tag)
            if self._runs:
                await asyncio.wait(set(self._runs), timeout=self.stop_grace)
            for run in set(self._runs):
                run.cancel()
            if self._runs:
                await asyncio.wait(set(self._runs))
            await self._acks.flush()
        logger.info("worker %s stopped", self.identity, extra={"event": "worker_stopped"})

    # -- a fire -----------------------------------------------------------------------------

    async def _on_fire(self, message: AbstractIncomingMessage) -> None:
        self._acks.received(message)  # before any await: in the order delivered
        self.counts["messages"] += 1
        # The run is a task of its own: aio-pika cancels its consumer's tasks when the
        # channel closes (a blip of the connection), and a run must not die of that. It
        # goes on, reports once reconnected, and its redelivered copy is acked then.
        run = asyncio.get_running_loop().create_task(self._guarded(message))
        self._runs.add(run)
        run.add_done_callback(self._runs.discard)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(run)

    async def _guarded(self, message: AbstractIncomingMessage) -> None:
        try:
            settled = await self._handle(message)
        except asyncio.CancelledError:
            settled = False
        except Exception:
            # A bug of this worker's (never a bad message: that is dead-lettered): the
            # message goes back, not held unacked forever (a slot of the prefetch lost);
            # if every worker fails on it, the broker dead-letters it at delivery_limit.
            logger.exception(
                "worker %s: failed to handle message %s; handed back",
                self.identity,
                message.message_id,
            )
            settled = False
        if settled:
            self._acks.ack(message)
        else:
            # Stopping: unacked, so the broker hands the fires to another worker (those
            # of them that ran here are refused there: recorded already).
            self._acks.forget(message)
            await _quietly(message.nack(requeue=True))

    async def _handle(self, message: AbstractIncomingMessage) -> bool:
        """The fires of ``message``: whether every one is settled (else it goes back)."""
        try:
            fires = FireMessage.decode_all(message.body)
        except BadMessage as error:
            await self._dead_letter(message, f"not an STS fire: {error}")
            self.counts["refused"] += 1
            return True
        if not message.reply_to:  # no scheduler to claim it from, nor to report to
            await self._dead_letter(message, "not an STS fire: it has no reply_to")
            self.counts["refused"] += 1
            return True
        if len(fires) == 1:
            return await self._handle_fire(fires[0], message)
        if message.redelivered:
            return await self._handed_back(message, fires)
        settled = await asyncio.gather(*(self._handle_fire(fire, message) for fire in fires))
        return all(settled)

    async def _handed_back(
        self, message: AbstractIncomingMessage, fires: list[FireMessage]
    ) -> bool:
        """A message of several fires handed out again: the fires this worker handles or
        reported already (the message is its own, back after its channel closed: a broker
        restart, a blip) are settled here as ``_handle_fire`` does; the others are split
        out (``_split``)."""
        mine: list[FireMessage] = []
        others: list[FireMessage] = []
        for fire in fires:
            attempt = (fire.key, fire.attempt)
            handled = attempt in self._running or attempt in self._reported
            (mine if handled else others).append(fire)
        if others and not await self._split(message, others):
            return False
        settled = await asyncio.gather(*(self._handle_fire(fire, message) for fire in mine))
        return all(settled)

    async def _handle_fire(self, fire: FireMessage, message: AbstractIncomingMessage) -> bool:
        attempt = (fire.key, fire.attempt)
        while (running := self._running.get(attempt)) is not None:
            # This worker has it already: its connection blipped (or the broker restarted),
            # and the broker handed the fire back. Not run twice: this copy is settled once
            # the run has reported, or takes it on if its first delivery was lost unstarted.
            if await asyncio.shield(running):
                self.counts["dropped"] += 1
                return True
        if attempt in self._reported:
            self.counts["dropped"] += 1
            return True
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._running[attempt] = done
        settled = False
        try:
            settled = await self._claimed(fire, message)
            return settled
        finally:
            del self._running[attempt]
            self._held.pop(attempt, None)
            done.set_result(settled)

    async def _claimed(self, fire: FireMessage, message: AbstractIncomingMessage) -> bool:
        refusal = self._refusal(fire)
        answer, asked = await self._claim(fire, message)
        while answer.wait:
            # Another worker may still hold it (its channel closed, it may run on): keep
            # this copy, unacked, until that one reports or is found gone.
            await asyncio.sleep(HOLD_INTERVAL)
            if _lost(message):
                return False  # handed out again meanwhile: that copy goes on
            answer, asked = await self._claim(fire, message)
        if not answer.granted:
            return self._dropped(fire, answer)
        self._hold(fire, message)
        if refusal is not None:
            # Recorded failed by the scheduler, and kept in the dead-letter queue.
            await self._publish_outcome(
                message, _outcome_message(fire, self, message, sts.Outcome.FAILED, refusal)
            )
            await self._dead_letter(message, refusal, fire)
            self.counts["refused"] += 1
            return True
        async with self._slots:
            if _lost(message) or asyncio.get_running_loop().time() - asked >= GRANT_FRESH:
                # Its delivery was lost while it waited for a slot (a broker restart, a
                # blip), or it waited long (or this process was frozen): the grant may have
                # lapsed and the attempt been taken over. Asked again, holding the slot:
                # still this worker's, it runs here, and a copy handed out again waits for
                # it (the hold) and is dropped; not relied on, since a copy requeued past
                # its expiry is gone. Taken over meanwhile, it is the new holder's.
                answer, asked = await self._claim(fire, message)
                if not answer.granted:
                    return self._dropped(fire, answer)
            held = self._held.get((fire.key, fire.attempt))
            if held is not None:
                # Its holds say so from now: the scheduler's backstop counts from the
                # start, not from the grant (a fire may wait long for a slot).
                held[1].started_at = _now()
            try:
                sent = await self._run(fire, message)
            except Exception as error:
                # A bug of this worker's once the run began: reported failed, never handed
                # back (its next delivery would be granted here again and run again).
                logger.exception("worker %s: failed around the run of %s", self.identity, fire.key)
                sent = _outcome_message(
                    fire,
                    self,
                    message,
                    sts.Outcome.FAILED,
                    f"the worker failed around the run: {_described(error)}",
                )
        if self._stopping and sent.outcome == sts.Outcome.CANCELLED:
            # Cut short by this worker's stop, not by the job: another worker runs it.
            return False
        await self._publish_outcome(message, sent)
        self._reported.add((fire.key, fire.attempt))
        if sent.outcome in (sts.Outcome.FAILED, sts.Outcome.TIMED_OUT) and not sent.retry:
            await self._dead_letter(message, f"its run failed for good: {sent.error}", fire)
        self.counts["ran"] += 1
        return True

    def _dropped(self, fire: FireMessage, answer: Answer) -> bool:
        self.counts["dropped"] += 1
        logger.info(
            "worker %s: dropped job=%s attempt=%d: %s",
            self.identity,
            fire.job,
            fire.attempt,
            answer.reason,
        )
        return True

    def _hold(self, fire: FireMessage, message: AbstractIncomingMessage) -> None:
        """Renew ``fire``'s grant until it is reported (``_renew_holds``)."""
        claims = (message.headers or {}).get("x-sts-claims")
        if isinstance(claims, str):
            hold = WorkerMessage(
                "hold",
                fire.key,
                fire.attempt,
                fire.run_id,
                self.identity,
                source=_header(message, MESSAGE_ID),
                instance=self.instance,
            )
            self._held[(fire.key, fire.attempt)] = (claims, hold)

    async def _renew_holds(self) -> None:
        """Every HOLD_INTERVAL, the holds of the attempts this worker has, one message per
        scheduler, not confirmed (a lost one is followed by the next); in a message of
        their own, so that a scheduler of an earlier version drops only them."""
        while True:
            await asyncio.sleep(HOLD_INTERVAL)
            by_queue: dict[str, list[WorkerMessage]] = {}
            for queue, hold in self._held.values():
                by_queue.setdefault(queue, []).append(hold)
            for queue, holds in by_queue.items():
                if self._claimer is None:
                    continue
                body = aio_pika.Message(WorkerMessage.encode_batch(holds))
                publishing = self._claimer.default_exchange.publish(
                    body, routing_key=queue, mandatory=False
                )
                await _quietly(asyncio.wait_for(publishing, HOLD_INTERVAL))

    async def _split(self, message: AbstractIncomingMessage, fires: list[FireMessage]) -> bool:
        """A message of several fires handed out again (its worker died or was cut off):
        each fire goes back to the pool as a message of its own, marked redelivered,
        before this one is acked. A fire that kills every worker that takes it then
        reaches the dead-letter queue alone, its companions run (``delivery_limit``
        counts the deliveries of a message, not of a fire)."""
        assert self._fires is not None
        # STS's own headers only: not the broker's (x-delivery-count, x-death), which
        # belong to the message handed out again, not to its fires' new ones.
        headers = {k: v for k, v in (message.headers or {}).items() if k.startswith("x-sts-")}
        headers[REDELIVERED] = True
        # Each copy its own id, and the message it comes from: the scheduler lets one copy
        # of a fire take it over, not a second one should this message be split again.
        headers[SPLIT_FROM] = _header(message, MESSAGE_ID)
        die_after = int(os.environ.get(DIE_MID_SPLIT) or 0)
        try:
            for number, fire in enumerate(fires):
                if die_after and number == die_after:
                    logger.error("worker %s: dying mid-split (%s)", self.identity, DIE_MID_SPLIT)
                    os._exit(DIED_MID_SPLIT)
                remaining = None
                if fire.expires is not None:
                    remaining = max((fire.expires - _now()).total_seconds(), 0.001)
                await self._fires.publish(
                    aio_pika.Message(
                        fire.encode(),
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=fire.key,
                        correlation_id=f"{fire.key}#{fire.attempt}",
                        reply_to=message.reply_to,
                        expiration=remaining,
                        app_id="sts",
                        headers={**headers, MESSAGE_ID: uuid.uuid4().hex},
                    ),
                    routing_key=message.routing_key or self.pool,
                    timeout=10.0,
                )
        except Exception as error:  # handed out again, and split then
            logger.warning("worker %s: could not split a message: %s", self.identity, error)
            return False
        logger.info(
            "worker %s: split a redelivered message of %d fires",
            self.identity,
            len(fires),
        )
        self.counts["split"] += 1
        return True

    def _refusal(self, fire: FireMessage) -> str | None:
        """Why this worker must not run ``fire``, or ``None``."""
        if fire.job not in self.jobs:
            known = ", ".join(sorted(self.jobs)[:20]) or "none"
            return (
                f"unknown job {fire.job!r} on worker {self.identity}: its configuration "
                f"has no such job (known: {known})"
            )
        mine = self.digests[fire.job]
        if mine != fire.digest:
            return (
                f"config drift: worker {self.identity} defines job {fire.job!r} differently "
                f"(digest {mine}) than scheduler {fire.scheduler!r} (digest {fire.digest}); "
                f"run both on the same configuration"
            )
        return None

    async def _run(self, fire: FireMessage, message: AbstractIncomingMessage) -> WorkerMessage:
        job = self.jobs[fire.job]
        started = _now()
        context = sts.RunContext(
            fire.run_id,
            fire.job,
            fire.fire_time,
            fire.attempt,
            started,
            fire.manual,
            {},
            fire.scheduler,
            worker=self.identity,
            redelivered=_redelivered(message),
        )
        # Each run its own context, so that sts.current_run() is this run's.
        outcome, error = await asyncio.create_task(sts.run_in_process(job, context))
        sent = _outcome_message(fire, self, message, outcome, None)
        sent.started_at, sent.finished_at = started, _now()
        # Texts only (the scheduler refuses anything else, and with it the whole batch).
        sent.output = {str(key): sts.redact(str(text)) for key, text in context.output.items()}
        if error is not None:
            if outcome is sts.Outcome.TIMED_OUT:
                sent.error = f"timed out after {job.policy.timeout:g}s (on worker {self.identity})"
            else:
                sent.error = sts.redact(_described(error))
                try:
                    sent.traceback = sts.redact("".join(traceback.format_exception(error)))
                except Exception:  # an exception whose __str__ raises, say
                    sent.traceback = None
            sent.retry = outcome is not sts.Outcome.CANCELLED and job.policy.retry.should_retry(
                error, fire.attempt
            )
            if isinstance(error, sts.RetryAfter):
                sent.retry_after = error.seconds
        return sent

    # -- talking to the scheduler -----------------------------------------------------------

    async def _claim(
        self, fire: FireMessage, message: AbstractIncomingMessage
    ) -> tuple[Answer, float]:
        """Ask the scheduler whether to run ``fire``; ask again if no answer comes. The
        answer, and when (loop time) the claim it answers was sent."""
        assert message.reply_to is not None
        claim = WorkerMessage(
            "claim",
            fire.key,
            fire.attempt,
            fire.run_id,
            self.identity,
            redelivered=_redelivered(message),
            source=_header(message, MESSAGE_ID),
            split_from=_header(message, SPLIT_FROM),
            instance=self.instance,
        )
        # The scheduler's claims queue (it lives while the scheduler does); a claim is not
        # confirmed: a lost one, or one sent while the scheduler is away, is asked again.
        claims = (message.headers or {}).get("x-sts-claims")
        loop = asyncio.get_running_loop()
        while True:
            correlation = claim.correlation = uuid.uuid4().hex
            answer: asyncio.Future[Answer] = loop.create_future()
            self._answers[correlation] = answer
            asked = loop.time()
            try:
                if isinstance(claims, str) and self._claimer is not None:
                    await _quietly(self._claims_to(claims).add(claim))
                else:
                    await self._send(
                        message.reply_to,
                        [claim],
                        reply_to=self._answer_queue,
                        correlation=correlation,
                    )
                return await asyncio.wait_for(answer, self.settings.claim_timeout), asked
            except TimeoutError:
                logger.warning(
                    "worker %s: no answer to the claim of job=%s from scheduler %s; asking again",
                    self.identity,
                    fire.job,
                    fire.scheduler,
                )
            finally:
                self._answers.pop(correlation, None)

    def _claims_to(self, queue: str) -> Batcher[WorkerMessage]:
        """The claims of one turn to one scheduler's claims queue, in one message: not
        confirmed (a lost one is asked again)."""
        batcher = self._claim_batches.get(queue)
        if batcher is None:

            async def send(claims: list[WorkerMessage]) -> None:
                assert self._claimer is not None
                await self._claimer.default_exchange.publish(
                    aio_pika.Message(
                        WorkerMessage.encode_batch(claims), reply_to=self._answer_queue
                    ),
                    routing_key=queue,
                    mandatory=False,
                )

            batcher = self._claim_batches[queue] = Batcher(send, delay=CLAIMS_GATHERED)
        return batcher

    async def _on_answer(self, message: AbstractIncomingMessage) -> None:
        try:
            answers = Answer.decode_batch(message.body)
        except BadMessage as error:
            logger.error("worker %s: a bad answer to a claim: %s", self.identity, error)
            return
        for correlation, answer in answers:
            waiting = self._answers.get(correlation)
            if waiting is not None and not waiting.done():
                waiting.set_result(answer)

    async def _publish_outcome(self, message: AbstractIncomingMessage, sent: WorkerMessage) -> None:
        """The outcome, to the scheduler that sent the fire (its ``reply_to``), with the
        others of this turn; returns once the broker confirmed it."""
        assert message.reply_to is not None
        batcher = self._outcome_batches.get(message.reply_to)
        if batcher is None:
            routing_key = message.reply_to

            async def send(outcomes: list[WorkerMessage]) -> None:
                await self._send(routing_key, outcomes)

            batcher = self._outcome_batches[routing_key] = Batcher(send, delay=OUTCOMES_GATHERED)
        await batcher.add(sent)

    async def _send(
        self,
        routing_key: str,
        batch: list[WorkerMessage],
        *,
        reply_to: str | None = None,
        correlation: str | None = None,
    ) -> None:
        """Publish to the scheduler until the broker confirms it (across outages)."""
        delay = 0.1
        body = WorkerMessage.encode_batch(batch)
        while True:
            assert self._publisher is not None
            try:
                await self._publisher.default_exchange.publish(
                    aio_pika.Message(
                        body,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        reply_to=reply_to,
                        correlation_id=correlation,
                        app_id="sts",
                    ),
                    routing_key=routing_key,
                    timeout=10.0,
                )
                return
            except Exception as error:
                logger.warning(
                    "worker %s: could not send %d %s(s) (%s#%d, ...): %s; retrying",
                    self.identity,
                    len(batch),
                    batch[0].kind,
                    batch[0].key,
                    batch[0].attempt,
                    describe(error),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _dead_letter(
        self, message: AbstractIncomingMessage, reason: str, fire: FireMessage | None = None
    ) -> None:
        """A copy of ``fire`` (else of ``message``, not a fire) in the dead-letter queue,
        saying why: a fire of a message of several goes there alone."""
        assert self._dead is not None
        headers = dict(message.headers or {})
        headers["x-sts-reason"] = reason
        headers["x-sts-worker"] = self.identity
        body, message_id = message.body, message.message_id
        if fire is not None:
            body, message_id = fire.encode(), fire.key
            headers["x-sts-job"], headers["x-sts-attempt"] = fire.job, fire.attempt
        delay = 0.1
        while True:
            try:
                await self._dead.publish(
                    aio_pika.Message(
                        body,
                        headers=headers,
                        content_type=message.content_type,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=message_id,
                        app_id="sts",
                    ),
                    routing_key="",
                    timeout=10.0,
                )
                logger.error(
                    "worker %s: dead-lettered %s: %s",
                    self.identity,
                    message_id,
                    reason,
                )
                return
            except Exception as error:
                logger.warning("worker %s: could not dead-letter: %s", self.identity, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def _redelivered(message: AbstractIncomingMessage) -> bool:
    """Whether ``message`` was handed out before: by the broker, or split from a message
    of several fires the broker handed out again."""
    return bool(message.redelivered) or bool((message.headers or {}).get(REDELIVERED))


def _lost(message: AbstractIncomingMessage) -> bool:
    """Whether the channel ``message`` came on closed: the broker hands it out again."""
    try:
        return bool(message.channel.is_closed)
    except Exception:  # aio-pika raises once the channel is closed
        return True


def _header(message: AbstractIncomingMessage, name: str) -> str:
    value = (message.headers or {}).get(name)
    return value if isinstance(value, str) else ""


def _described(error: BaseException) -> str:
    """``Type: message``, even for an exception whose ``__str__`` raises."""
    try:
        text = str(error)
    except Exception:
        text = ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _outcome_message(
    fire: FireMessage,
    worker: Worker,
    message: AbstractIncomingMessage,
    outcome: sts.Outcome,
    error: str | None,
) -> WorkerMessage:
    return WorkerMessage(
        "outcome",
        fire.key,
        fire.attempt,
        fire.run_id,
        worker.identity,
        redelivered=_redelivered(message),
        outcome=str(outcome),
        error=error,
        finished_at=_now(),
        instance=worker.instance,
    )


async def _quietly(action: object) -> None:
    try:
        if asyncio.iscoroutine(action):
            await action
    except Exception:
        pass

"""The scheduler's answer to each claim (``RabbitExecutor._claim``), case by case: which
redelivered claim may take an attempt over. The cases real processes reach only by rare
timing (a second split copy whose own worker died before it claimed; a publish retried
after a lost confirm) are played here as the claims the scheduler would receive; the
process test of a worker killed mid-split (test_rabbitmq_processes.py) attacks the rule
through the broker."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sts_rabbitmq.executor import RabbitExecutor, _Pending
from sts_rabbitmq.leases import TAKEOVER_SILENCE
from sts_rabbitmq.messages import WorkerMessage

import sts

KEY = "job@2026-01-01T00:00:00+00:00"


def _claim(worker: str, source: str, split_from: str = "", *, redelivered: bool) -> WorkerMessage:
    return WorkerMessage(
        "claim",
        KEY,
        1,
        "run",
        worker,
        redelivered=redelivered,
        source=source,
        split_from=split_from,
    )


def _pending(deadline: datetime | None = None) -> tuple[RabbitExecutor, _Pending]:
    executor = RabbitExecutor("s")
    executor._listening_since = time.monotonic() - 60  # connected to the broker since
    loop = asyncio.get_running_loop()
    fire = sts.Fire("run", "job", datetime(2026, 1, 1, tzinfo=UTC), 1, False, datetime.now(UTC))
    pending = _Pending(fire, deadline, loop.create_future(), loop.create_future())
    executor._pending[(KEY, 1)] = pending
    return executor, pending


def _asker(executor: RabbitExecutor, seen: list[str]) -> Callable[[WorkerMessage], None]:
    """Ask ``executor`` a claim; its answer goes to ``seen``: ``go``, ``wait`` or ``no``."""

    def ask(claim: WorkerMessage) -> None:
        answer = executor._claim(claim)
        seen.append("wait" if answer.wait else "go" if answer.granted else "no")

    return ask


def _silence(pending: _Pending) -> None:
    """As if TAKEOVER_SILENCE had passed with no word from the holder."""
    pending.renewed -= TAKEOVER_SILENCE
    if pending.challenged is not None:
        pending.challenged -= TAKEOVER_SILENCE


async def _answers(*claims: WorkerMessage) -> list[bool]:
    """Each claim's answer, in order, for one attempt dispatched and not yet recorded,
    its holder silent: a claim told to wait asks again once the holder was silent long
    enough (the lease, played by ``_silence``)."""
    executor, pending = _pending()
    answers = []
    for claim in claims:
        answer = executor._claim(claim)
        if answer.wait:
            _silence(pending)
            answer = executor._claim(claim)
            assert not answer.wait
        answers.append(answer.granted)
    return answers


def test_one_copy_of_a_fire_split_twice_takes_it_over() -> None:
    # The holder got it in message M; M was split twice (its first splitter died before
    # acking it): copies B and C of the fire, both split from M.
    answers = asyncio.run(
        _answers(
            _claim("a", "M", redelivered=False),  # the holder
            _claim("d", "B", "M", redelivered=True),  # takes it over from the dead holder
            _claim("e", "C", "M", redelivered=True),  # a second copy: refused
            _claim("f", "C", "M", redelivered=True),  # C again (e died): still refused
            _claim("g", "B", "M", redelivered=True),  # B again (d died): takes it over
        )
    )
    assert answers == [True, True, False, False, True]


def test_the_first_copy_to_claim_holds_a_fire_nobody_claimed() -> None:
    answers = asyncio.run(
        _answers(
            _claim("d", "C", "M", redelivered=True),
            _claim("e", "B", "M", redelivered=True),
            _claim("d", "B", "M", redelivered=True),  # d itself, but another copy
            _claim("d", "C", "M", redelivered=True),  # d asking again: its answer was lost
        )
    )
    assert answers == [True, False, False, True]


def test_a_second_message_of_one_fire_redelivered_does_not_take_it_over() -> None:
    # A publish retried after a lost confirm: messages M1 and M2 of one fire.
    answers = asyncio.run(
        _answers(
            _claim("a", "M1", redelivered=False),
            _claim("b", "M2", redelivered=False),  # a duplicate
            _claim("c", "M2", redelivered=True),  # M2 again (b died before claiming)
            _claim("d", "M1", redelivered=True),  # M1 again (a died): taken over
        )
    )
    assert answers == [True, False, False, True]


def test_claims_of_an_earlier_version_take_over_on_any_redelivery() -> None:
    answers = asyncio.run(
        _answers(
            _claim("a", "", redelivered=False),
            _claim("b", "", redelivered=False),
            _claim("c", "", redelivered=True),
            _claim("d", "B", "M", redelivered=True),
        )
    )
    assert answers == [True, False, True, True]


def test_a_takeover_waits_while_the_holder_renews_its_hold() -> None:
    # A broker restart closed every channel: the holder's message was handed to another
    # worker, but the holder runs on and renews its hold: the copy is told to wait (and
    # keeps its message) until the holder reports, or falls silent.
    async def main() -> list[str]:
        executor, pending = _pending()
        seen: list[str] = []
        ask = _asker(executor, seen)

        ask(_claim("a", "M", redelivered=False))
        ask(_claim("b", "B", "M", redelivered=True))  # the holder may live: wait
        _silence(pending)  # ... the holder is silent as long as the lease, but then:
        executor._renew([WorkerMessage("hold", KEY, 1, "run", "a", source="M")])
        ask(_claim("b", "B", "M", redelivered=True))  # it renewed: wait again
        executor._renew([WorkerMessage("hold", KEY, 1, "run", "x", source="M")])  # not its
        _silence(pending)
        ask(_claim("b", "B", "M", redelivered=True))  # silent since: taken over
        ask(_claim("a", "M", redelivered=False))  # the old holder, back: refused
        return seen

    assert asyncio.run(main()) == ["go", "wait", "wait", "go", "no"]


def test_misfire_grace_refuses_a_first_start_not_a_takeover() -> None:
    # The grace is about a fire that no worker started in time: a run started in time
    # whose worker died after the grace is taken over.
    async def main() -> list[bool]:
        past = datetime.now(UTC) - timedelta(seconds=1)
        executor, pending = _pending()
        first = executor._claim(_claim("a", "M", redelivered=False)).granted
        pending.deadline = past  # the holder's run goes on past the grace, and it dies
        again = executor._claim(_claim("a", "M", redelivered=False)).granted  # its own ask
        executor._claim(_claim("b", "M", redelivered=True))  # told to wait
        _silence(pending)
        takeover = executor._claim(_claim("b", "M", redelivered=True)).granted
        late, _ = _pending(deadline=past)
        fresh = late._claim(_claim("c", "N", redelivered=False))
        assert fresh.reason == "past its misfire_grace: recorded missed"
        return [first, again, takeover, fresh.granted]

    assert asyncio.run(main()) == [True, True, True, False]


def test_the_timeout_backstop_counts_from_the_start_not_while_a_holder_waits_for_a_slot() -> None:
    # A worker claims the fires of a burst at once and runs them as its slots free up:
    # one may wait longer than timeout + backstop after its grant, its holder alive and
    # renewing. The scheduler must not record it timed_out then (it would refuse the run:
    # a fire lost, attack 16); it counts timeout + backstop from the run's start, which the
    # holder's holds say.
    async def main() -> tuple[float, float, str]:
        executor = RabbitExecutor("s", backstop="0.2s")
        executor._listening_since = time.monotonic() - 60
        loop = asyncio.get_running_loop()
        fire = sts.Fire("run", "job", datetime(2026, 1, 1, tzinfo=UTC), 1, False, datetime.now(UTC))
        pending = _Pending(fire, None, loop.create_future(), loop.create_future())
        executor._pending[(KEY, 1)] = pending
        assert executor._claim(_claim("a", "M", redelivered=False)).granted
        job = SimpleNamespace(policy=sts.JobPolicy(timeout=0.1))
        outcome = loop.create_task(executor._outcome(job, pending))  # type: ignore[arg-type]
        began = time.monotonic()
        hold = WorkerMessage("hold", KEY, 1, "run", "a", source="M")
        while time.monotonic() - began < 1.0:  # 3 times timeout + backstop, waiting
            executor._renew([hold])
            await asyncio.sleep(0.05)
            assert not outcome.done()
        hold.started_at = datetime.now(UTC)
        started = time.monotonic()
        executor._renew([hold])  # started: now its holder goes silent (frozen mid-run)
        report = await outcome
        return started - began, time.monotonic() - started, report.error or ""

    waited, after_start, error = asyncio.run(main())
    assert waited >= 1.0 and 0.25 <= after_start < 2.0, after_start
    assert "within timeout (0.1s) + backstop (0.2s)" in error


def test_a_worker_of_the_same_name_is_not_the_holder_asking_again() -> None:
    # Two workers named alike (host:pid: containers on one host's network are all pid 1):
    # the other one, handed the holder's message, must wait for the holder's silence like
    # any other worker, not be granted as the holder asking again (attack 16: it ran the
    # fire a second time); its holds and outcome are not the holder's either.
    async def main() -> list[str]:
        executor, pending = _pending()
        seen = []

        def ask(claim: WorkerMessage, instance: str) -> None:
            claim.instance = instance
            answer = executor._claim(claim)
            seen.append("wait" if answer.wait else "go" if answer.granted else "no")

        ask(_claim("h:1", "M", redelivered=False), "first")
        ask(_claim("h:1", "M", redelivered=True), "second")  # the same message, handed out
        executor._renew([WorkerMessage("hold", KEY, 1, "run", "h:1", source="M", instance="x")])
        _silence(pending)
        ask(_claim("h:1", "M", redelivered=True), "second")  # the holder silent: taken over
        ask(_claim("h:1", "M", redelivered=False), "first")  # the first one, back: refused
        return seen

    assert asyncio.run(main()) == ["go", "wait", "go", "no"]


def test_the_schedulers_own_deafness_is_not_the_holders_silence() -> None:
    # A claim asked to take an attempt over, then the scheduler's own connection dropped
    # (a blip, the broker closing every connection): the holder's holds sent meanwhile
    # were lost (its claims queue lives with its connection). A claim that comes right
    # after the scheduler is back must wait for the holder's next hold, not take the
    # attempt over on a silence the scheduler could not hear (the fire ran twice).
    async def main() -> list[str]:
        executor, pending = _pending()
        seen: list[str] = []
        ask = _asker(executor, seen)

        ask(_claim("a", "M", redelivered=False))
        ask(_claim("b", "M", redelivered=True))  # the holder may live: wait
        executor._on_connection_lost()
        _silence(pending)  # ... as long as the lease passes, the scheduler cut off
        executor._on_reconnected()
        ask(_claim("b", "M", redelivered=True))  # back, nothing heard yet: wait
        executor._listening_since -= TAKEOVER_SILENCE  # then heard nothing for the lease
        ask(_claim("b", "M", redelivered=True))  # the holder is silent: taken over
        return seen

    assert asyncio.run(main()) == ["go", "wait", "wait", "go"]


def test_outcomes_waiting_behind_a_full_prefetch_are_not_the_holders_silence() -> None:
    # The store stalls: the outcome handlers fill the outcomes consumer's prefetch, each
    # waiting for its record, so the broker sends no more. The holder of another attempt
    # finished and published its outcome (it waits unread behind them) and stopped
    # renewing its hold. A blip hands its message out again: the copy must not take a
    # fire over that already ran because the holder "went silent" (it would run twice).
    async def main() -> list[str]:
        executor, pending = _pending()
        stalled = await _stalled_outcomes(executor, 2)
        seen: list[str] = []
        ask = _asker(executor, seen)

        ask(_claim("a", "M", redelivered=False))
        ask(_claim("b", "M", redelivered=True))  # the blip: wait
        _silence(pending)  # the lease passes with no word from the holder, but the
        assert executor._full_since is not None
        executor._full_since -= TAKEOVER_SILENCE  # prefetch was full all that time
        ask(_claim("b", "M", redelivered=True))  # not heard: wait
        other, message, handler = stalled[0]
        other.outcome.result().on_recorded()  # the store is back: one record, one ack
        await handler
        assert message.acked and executor._full_since is None
        ask(_claim("b", "M", redelivered=True))  # a slot just freed: nothing heard yet
        _silence(pending)  # then the holder stays silent as long, the scheduler hearing
        ask(_claim("b", "M", redelivered=True))  # taken over
        stalled[1][0].outcome.result().on_recorded()
        await stalled[1][2]
        return seen

    assert asyncio.run(main()) == ["go", "wait", "wait", "wait", "go"]


class _Delivered:
    """An outcome message as the consumer gets it."""

    reply_to = None
    correlation_id = None

    def __init__(self, sent: WorkerMessage) -> None:
        self.body = sent.encode()
        self.acked = False

    async def ack(self) -> None:
        self.acked = True

    async def nack(self, requeue: bool = True) -> None:
        raise AssertionError("handled without error")


async def _stalled_outcomes(
    executor: RabbitExecutor, prefetch: int
) -> list[tuple[_Pending, _Delivered, asyncio.Task[None]]]:
    """``prefetch`` outcomes of other attempts in hand, each waiting for its record (a
    store that stalls): the consumer's prefetch is full."""
    executor.settings = dataclasses.replace(executor.settings, prefetch=prefetch)
    loop = asyncio.get_running_loop()
    fire = sts.Fire("r2", "other", datetime(2026, 1, 1, tzinfo=UTC), 1, False, datetime.now(UTC))
    stalled = []
    for n in range(prefetch):
        key = f"other@2026-01-01T00:00:0{n + 1}+00:00"
        other = _Pending(fire, None, loop.create_future(), loop.create_future())
        other.holder = other.instance = "x"
        executor._pending[(key, 1)] = other
        outcome = WorkerMessage("outcome", key, 1, "r2", "x", outcome="succeeded")
        outcome.instance = "x"
        message = _Delivered(outcome)
        handler = loop.create_task(executor._on_message(message))  # type: ignore[arg-type]
        stalled.append((other, message, handler))
    await asyncio.sleep(0)  # the handlers wait for their records
    return stalled


def test_a_prefetch_full_for_moments_does_not_hold_takeovers_back() -> None:
    # A healthy store, a small prefetch and a steady flow of other outcomes: the prefetch
    # is full for the moment each one is handled. A dead holder's silence still counts
    # (it was counted again from each freed slot: no takeover, no backstop, for as long as
    # other jobs kept sending outcomes; an attacker's find).
    async def main() -> list[str]:
        executor, pending = _pending()
        seen: list[str] = []
        ask = _asker(executor, seen)

        ask(_claim("a", "M", redelivered=False))
        ask(_claim("b", "M", redelivered=True))  # the holder may live: wait
        _silence(pending)  # it is silent as long as the lease...
        for _ in range(3):  # ... while other outcomes fill the prefetch of 1 by turns
            ((other, _, handler),) = await _stalled_outcomes(executor, 1)
            other.outcome.result().on_recorded()
            await handler
        ask(_claim("b", "M", redelivered=True))  # taken over
        return seen

    assert asyncio.run(main()) == ["go", "wait", "go"]

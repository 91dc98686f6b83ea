"""The scheduler's answer to each claim (``RabbitExecutor._claim``), case by case: which
redelivered claim may take an attempt over. The cases real processes reach only by rare
timing (a second split copy whose own worker died before it claimed; a publish retried
after a lost confirm) are played here as the claims the scheduler would receive; the
process test of a worker killed mid-split (test_rabbitmq_processes.py) attacks the rule
through the broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sts_rabbitmq.executor import RabbitExecutor, _Pending
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


async def _answers(*claims: WorkerMessage) -> list[bool]:
    """Each claim's answer, in order, for one attempt dispatched and not yet recorded."""
    executor = RabbitExecutor("s")
    loop = asyncio.get_running_loop()
    fire = sts.Fire("run", "job", datetime(2026, 1, 1, tzinfo=UTC), 1, False, datetime.now(UTC))
    executor._pending[(KEY, 1)] = _Pending(fire, None, loop.create_future(), loop.create_future())
    return [executor._claim(claim).granted for claim in claims]


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

"""Claiming fires: which replica of a group runs a (job, fire time).

Every replica fires every job on its own loop; before a scheduled run starts, the engine
asks the store to claim the fire, and the store inserts its key, ``(group, job, fire
time)``, into ``sts_claims``. The first insert wins; the others conflict and do nothing,
so the fire runs once. Claims made together (one burst of fires) go in one statement.

So that N replicas share the work rather than race for it, each fire has a *preferred*
replica: the live replicas (their leases in ``sts_replicas``) sorted by id, indexed by a
hash of the job and the fire's second. The preferred one claims at once; the others wait
``handoff_delay`` first, and so win only a fire whose preferred replica is gone (dead,
cut off, or too slow).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

logger = logging.getLogger("sts.postgres")


@dataclass(slots=True)
class _Claim:
    job: str
    fire_time: datetime
    due: float
    future: asyncio.Future[bool]


@dataclass(slots=True)
class ClaimAnswer:
    """What the database said of one claim."""

    won: bool
    paused: bool = False
    stale: bool = False


#: Sends one batch of ``(job, fire time)`` claims; answers in the same order.
SendClaims = Callable[[list[tuple[str, datetime]]], Awaitable[list[ClaimAnswer]]]
#: Called with the claims that could not be asked (the database is unreachable) and why.
Unclaimable = Callable[[list[tuple[str, datetime]], str], None]


def preferred_index(job: str, fire_time: datetime, replicas: int) -> int:
    """Which of ``replicas`` live replicas (sorted) should run this fire: the same answer
    in every process (crc32, not ``hash()``, which is salted per process)."""
    return (zlib.crc32(job.encode()) + int(fire_time.timestamp())) % replicas


@dataclass(slots=True)
class _Lane:
    """Claims waiting to be sent; one batch in flight at a time (the next gathers while
    it is)."""

    #: Claims due within this long after the first one due go in its batch: handoffs
    #: trickle in at every fire of other replicas, and each statement costs the server
    #: more than each row; a handoff is late by design, so it gathers.
    gather: float = 0.0
    #: How long the first claim due waits for others to share its statement: each
    #: statement is a commit (a WAL flush) on the server, and with fires spread over the
    #: second, claims come one by one.
    linger: float = 0.0
    waiting: list[_Claim] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass(slots=True)
class ClaimQueue:
    """Claims waiting to be sent, on the store's loop, in two lanes: the fires this replica
    is preferred for, and the handoffs (fires another replica is preferred for, claimed
    late). Each lane has one batch in flight at a time, so a handoff batch, which may wait
    on the rows of the replica that ran the fire, never holds up the claims this replica
    must win at once."""

    send: SendClaims
    unclaimable: Unclaimable
    handoff_delay: float
    claim_window: float
    #: This replica's id and the live replicas' ids, sorted (kept by the lease keeper).
    replica: str
    live: list[str] = field(default_factory=list)
    _lanes: tuple[_Lane, _Lane] | None = None
    claims_won: int = 0
    claims_lost: int = 0

    def start(self) -> None:
        """On the store's loop."""
        loop = asyncio.get_running_loop()
        self._lanes = (_Lane(linger=self.claim_window), _Lane(gather=self.handoff_delay / 4))
        for lane in self._lanes:
            lane.task = loop.create_task(self._send_forever(lane))

    async def stop(self) -> None:
        lanes, self._lanes = self._lanes, None
        for lane in lanes or ():
            if lane.task is not None:
                lane.task.cancel()
                await asyncio.gather(lane.task, return_exceptions=True)
            _answer_all([(claim.future, False) for claim in lane.waiting])
            lane.waiting.clear()

    def prefers(self, job: str, fire_time: datetime) -> bool:
        """Whether this replica is the fire's preferred one (any thread: ``live`` is
        replaced whole, never changed in place)."""
        live = self.live
        return len(live) <= 1 or live[preferred_index(job, fire_time, len(live))] == self.replica

    def add(self, job: str, fire_time: datetime, future: asyncio.Future[bool]) -> None:
        """On the store's loop: queue a claim; ``future`` (of the engine's loop) gets the
        answer."""
        if self._lanes is None:  # stopped
            _answer_all([(future, False)])
            return
        now, handoff = self._lanes
        lane, delay = now, 0.0
        live = self.live
        if len(live) > 1 and live[preferred_index(job, fire_time, len(live))] != self.replica:
            lane, delay = handoff, self.handoff_delay
        lane.waiting.append(_Claim(job, fire_time, time.monotonic() + delay, future))
        lane.wake.set()

    async def _send_forever(self, lane: _Lane) -> None:
        while True:
            now = time.monotonic()
            first = min((claim.due for claim in lane.waiting), default=None)
            if first is None or first > now:
                later = first
                lane.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        lane.wake.wait(), None if later is None else max(0.0, later - now)
                    )
                continue
            if now < first + lane.linger:
                await asyncio.sleep(first + lane.linger - now)
                now = time.monotonic()
            horizon = now + lane.gather
            ready = [claim for claim in lane.waiting if claim.due <= horizon]
            lane.waiting = [claim for claim in lane.waiting if claim.due > horizon]
            await self._send(ready)

    async def _send(self, batch: list[_Claim]) -> None:
        keys = [(claim.job, claim.fire_time) for claim in batch]
        try:
            answers = await self.send(keys)
        except Exception as error:  # the database is unreachable: run nothing unclaimed
            # Recorded before the engine hears the answer: whoever reads the history after
            # the fire was refused finds its missed record (buffered, so waited for).
            self.unclaimable(keys, str(error).strip() or type(error).__name__)
            _answer_all([(claim.future, False) for claim in batch])
            return
        stale: list[tuple[str, datetime]] = []
        settled: list[tuple[asyncio.Future[bool], bool]] = []
        for claim, answer in zip(batch, answers, strict=True):
            if answer.won:
                self.claims_won += 1
            else:
                self.claims_lost += 1
            if answer.stale:
                stale.append((claim.job, claim.fire_time))
            settled.append((claim.future, answer.won))
        if stale:
            self.unclaimable(stale, "the fire is older than the claims kept (claim_retention)")
        _answer_all(settled)


def _answer_all(answers: list[tuple[asyncio.Future[bool], bool]]) -> None:
    """Settle the engine's futures, one call per engine loop (not one per claim: a burst of
    1,000 fires would wake the loop 1,000 times)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[bool], bool]]] = {}
    for future, won in answers:
        by_loop.setdefault(future.get_loop(), []).append((future, won))
    for loop, settled in by_loop.items():

        def settle(settled: list[tuple[asyncio.Future[bool], bool]] = settled) -> None:
            for future, won in settled:
                if not future.done():
                    future.set_result(won)

        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle)

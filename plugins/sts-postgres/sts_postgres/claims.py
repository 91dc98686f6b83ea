"""Claiming fires: which replica of a group runs a (job, fire time).

Every replica fires every job on its own loop; before a scheduled run starts, the engine
asks the store to claim the fire, and the store inserts its key, ``(group, job, fire
time)``, into ``sts_claims``. The first insert wins; the others conflict and do nothing,
so the fire runs once. Claims made together (one burst of fires) go in one statement.

So that N replicas share the work rather than race for it, each fire has a *preferred*
replica: the live replicas (their leases in ``sts_replicas``) sorted by id, indexed by a
hash of the job and the fire's second. Only the preferred one claims the fire, at once.
The others *watch* it: they do not wake their store's loop for it, and after
``handoff_delay`` they ask, for all the fires they watch at once, which ones nobody has
claimed yet, and claim only those (:data:`.sql.CLAIM_UNCLAIMED`). In a healthy group that
check finds every fire claimed, reads a few index pages and writes nothing; a fire whose
preferred replica is dead, cut off or too slow is claimed by a watcher (the first insert
still decides), so no fire is left unclaimed while a replica is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
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
    #: Whether the key reached the insert (a watched fire found unclaimed).
    tried: bool = True


#: How many won and unclosed claims a replica remembers (see ``ClaimQueue.won_open``).
WON_OPEN_KEPT = 100_000

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

    #: How long the first claim due waits for others to share its statement: each
    #: statement is a commit (a WAL flush) on the server, and with fires spread over the
    #: second, claims come one by one.
    linger: float = 0.0
    waiting: list[_Claim] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass(slots=True)
class _Watch:
    """The fires another replica is preferred for, appended from the engine's thread
    without waking the store's loop (its task is woken once when the list stops being
    empty, then works through it on its own timer)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: list[_Claim] = field(default_factory=list)
    #: Whether the watch task is working through ``waiting`` (then nobody wakes it).
    armed: bool = False
    #: Stopped: a fire watched from now on is answered ``False`` at once.
    stopped: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass(slots=True)
class ClaimQueue:
    """Claims waiting to be sent, on the store's loop: the fires this replica is preferred
    for, claimed at once (within ``claim_window``), and the fires it watches for another
    replica, checked after ``handoff_delay`` in batches and claimed only when nobody has
    claimed them. A watch check never holds up the claims this replica must win at once:
    it has a task of its own."""

    send: SendClaims
    #: Checks a batch of watched fires: claims those nobody holds; answers in order.
    check: SendClaims
    unclaimable: Unclaimable
    handoff_delay: float
    claim_window: float
    #: This replica's id and the live replicas' ids, sorted (kept by the lease keeper).
    replica: str
    live: list[str] = field(default_factory=list)
    _lane: _Lane | None = None
    _watch: _Watch = field(default_factory=_Watch)
    _loop: asyncio.AbstractEventLoop | None = None
    claims_won: int = 0
    claims_lost: int = 0
    #: Fires sent in claiming statements (an insert each): the preferred ones, and the
    #: watched ones found unclaimed. With a healthy group, one per fire for the group.
    claims_sent: int = 0
    #: Statements sent: claims of preferred fires (each one commit), checks of watched ones.
    claim_statements: int = 0
    check_statements: int = 0
    #: Watched fires checked, and of those, found unclaimed (and so claimed) and won.
    watched: int = 0
    handoffs_tried: int = 0
    handoffs_won: int = 0
    #: The fires this replica won and has not closed (recorded): a claim statement sent
    #: again after a cut counts this replica's open claims as won, except these.
    won_open: dict[tuple[str, datetime], None] = field(default_factory=dict)

    def start(self) -> None:
        """On the store's loop."""
        loop = self._loop = asyncio.get_running_loop()
        self._lane = _Lane(linger=self.claim_window)
        self._lane.task = loop.create_task(self._send_forever(self._lane))
        self._watch = _Watch()
        self._watch.task = loop.create_task(self._watch_forever(self._watch))

    async def stop(self) -> None:
        lane, self._lane = self._lane, None
        watch = self._watch
        tasks = [task for task in (lane.task if lane else None, watch.task) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with watch.lock:
            watched, watch.waiting = watch.waiting, []
            watch.stopped = True
        left = [*(lane.waiting if lane is not None else ()), *watched]
        _answer_all([(claim.future, False) for claim in left])
        if lane is not None:
            lane.waiting.clear()

    def prefers(self, job: str, fire_time: datetime) -> bool:
        """Whether this replica is the fire's preferred one (any thread: ``live`` is
        replaced whole, never changed in place)."""
        live = self.live
        return len(live) <= 1 or live[preferred_index(job, fire_time, len(live))] == self.replica

    def _won(self, job: str, fire_time: datetime) -> None:
        won_open = self.won_open
        won_open[job, fire_time] = None
        if len(won_open) > WON_OPEN_KEPT:
            # Claims never closed (a run cancelled before its record): the oldest go. A fire
            # asked twice is rare in itself; asked twice across a cut, rarer still.
            for key in list(itertools.islice(won_open, WON_OPEN_KEPT // 2)):
                del won_open[key]

    def closed(self, job: str, fire_time: datetime) -> None:
        """On the store's loop: the fire's claim is closed by its record."""
        self.won_open.pop((job, fire_time), None)

    def add(self, job: str, fire_time: datetime, future: asyncio.Future[bool]) -> None:
        """On the store's loop: queue a claim to send at once; ``future`` (of the engine's
        loop) gets the answer."""
        lane = self._lane
        if lane is None:  # stopped
            _answer_all([(future, False)])
            return
        lane.waiting.append(_Claim(job, fire_time, time.monotonic(), future))
        lane.wake.set()

    def watch(self, job: str, fire_time: datetime, future: asyncio.Future[bool]) -> None:
        """From any thread: check the fire after ``handoff_delay`` and claim it if nobody
        has; ``future`` gets the answer. Costs no wake of the store's loop while the watch
        task is busy (at 1,000 fires a second, always)."""
        watch = self._watch
        claim = _Claim(job, fire_time, time.monotonic() + self.handoff_delay, future)
        with watch.lock:
            stopped = watch.stopped
            if not stopped:
                watch.waiting.append(claim)
                if watch.armed:
                    return
                watch.armed = True
        loop = self._loop
        try:
            if stopped or loop is None:
                raise RuntimeError("stopped")
            loop.call_soon_threadsafe(watch.wake.set)
        except RuntimeError:  # stopped, or the store's loop has closed
            with watch.lock:
                if claim in watch.waiting:
                    watch.waiting.remove(claim)
            _answer_all([(future, False)])

    async def _watch_forever(self, watch: _Watch) -> None:
        # Watched fires gather for half the delay: the check of a healthy group's fires
        # answers "claimed" and nothing waits on it but the engine's bookkeeping.
        gather = self.handoff_delay / 2
        while True:
            await watch.wake.wait()
            watch.wake.clear()
            while True:
                with watch.lock:
                    if not watch.waiting:
                        watch.armed = False
                        break
                    first = min(claim.due for claim in watch.waiting)
                now = time.monotonic()
                if first > now:
                    await asyncio.sleep(first - now)
                    now = time.monotonic()
                horizon = now + gather
                with watch.lock:
                    ready = [claim for claim in watch.waiting if claim.due <= horizon]
                    watch.waiting = [claim for claim in watch.waiting if claim.due > horizon]
                if ready:
                    await self._send(ready, self.check, watched=True)

    async def _send_forever(self, lane: _Lane) -> None:
        while True:
            if not lane.waiting:
                lane.wake.clear()
                await lane.wake.wait()
                continue
            first = min(claim.due for claim in lane.waiting)
            now = time.monotonic()
            if now < first + lane.linger:
                await asyncio.sleep(first + lane.linger - now)
            ready, lane.waiting = lane.waiting, []
            await self._send(ready, self.send, watched=False)

    async def _send(self, batch: list[_Claim], send: SendClaims, *, watched: bool) -> None:
        keys = [(claim.job, claim.fire_time) for claim in batch]
        if watched:
            self.check_statements += 1
        else:
            self.claims_sent += len(keys)
            self.claim_statements += 1
        try:
            answers = await send(keys)
        except Exception as error:  # the database is unreachable: run nothing unclaimed
            # Recorded before the engine hears the answer: whoever reads the history after
            # the fire was refused finds its missed record (buffered, so waited for). The
            # record takes the fire's claim: a fire another replica ran keeps only its run.
            self.unclaimable(keys, str(error).strip() or type(error).__name__)
            _answer_all([(claim.future, False) for claim in batch])
            return
        stale: list[tuple[str, datetime]] = []
        settled: list[tuple[asyncio.Future[bool], bool]] = []
        for claim, answer in zip(batch, answers, strict=True):
            if answer.won:
                self.claims_won += 1
                self._won(claim.job, claim.fire_time)
            else:
                self.claims_lost += 1
            if answer.stale:
                stale.append((claim.job, claim.fire_time))
            settled.append((claim.future, answer.won))
        if watched:
            self.watched += len(batch)
            tried = sum(1 for answer in answers if answer.tried)
            self.handoffs_tried += tried
            self.claims_sent += tried
            self.claim_statements += tried > 0
            self.handoffs_won += sum(1 for answer in answers if answer.won)
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

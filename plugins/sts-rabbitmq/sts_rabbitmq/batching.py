"""One AMQP message for what a process has to say to one peer in one turn of its loop.

Fires come in bursts (a scheduler fires many jobs on the same second), and each fire, its
claim and its outcome cost an AMQP message, a publish and a write to the socket on both
sides: per message, the AMQP machinery (aiormq, pamqp, aio-pika) costs far more CPU than
the run of a short task. A ``Batcher`` gathers the items added during one turn of the event
loop (or during ``delay`` seconds from the first) and sends them as one message: no item
waits longer than that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")

#: The most items in one message (the rest go in the next one, on the same turn).
BATCH_LIMIT = 128


class Batcher(Generic[Item]):
    """Sends the items added during a turn of the loop with one call of ``send``."""

    def __init__(
        self,
        send: Callable[[list[Item]], Awaitable[None]],
        *,
        delay: float = 0.0,
        limit: int | Callable[[int], int] = BATCH_LIMIT,
    ) -> None:
        """``limit``: the most items in one call of ``send``, or a function of the number
        of items gathered that says it (a burst split between several consumers)."""
        self._send = send
        self._delay = delay
        self._limit = limit
        self._waiting: list[tuple[Item, asyncio.Future[None]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def add(self, item: Item) -> None:
        """Send ``item`` with the others of this turn; return once ``send`` returned for
        its batch (raise what ``send`` raised)."""
        # Shielded: the caller giving up does not take the item out of its batch.
        await asyncio.shield(self.submit(item))

    def submit(self, item: Item) -> asyncio.Future[None]:
        """Send ``item`` with the others of this turn: done once ``send`` returned for its
        batch (or with what it raised). Cancelling it does not take the item out."""
        loop = asyncio.get_running_loop()
        sent: asyncio.Future[None] = loop.create_future()
        # Whoever gave up waiting on it: what ``send`` raised is not an unretrieved error.
        sent.add_done_callback(_retrieve)
        if not self._waiting:
            flush = loop.create_task(self._flush())
            self._flushing.add(flush)  # a task nobody holds may be collected mid-flight
            flush.add_done_callback(self._flushing.discard)
        self._waiting.append((item, sent))
        return sent

    async def _flush(self) -> None:
        if self._delay > 0:
            await asyncio.sleep(self._delay)
        waiting, self._waiting = self._waiting, []
        limit = self._limit if isinstance(self._limit, int) else self._limit(len(waiting))
        limit = max(limit, 1)
        await asyncio.gather(
            *(
                self._send_part(waiting[start : start + limit])
                for start in range(0, len(waiting), limit)
            )
        )

    async def _send_part(self, part: list[tuple[Item, asyncio.Future[None]]]) -> None:
        try:
            await self._send([item for item, _ in part])
        except asyncio.CancelledError:
            for _, sent in part:
                sent.cancel()
            raise
        except Exception as error:
            for _, sent in part:
                if not sent.done():
                    sent.set_exception(error)
            return
        for _, sent in part:
            if not sent.done():
                sent.set_result(None)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()

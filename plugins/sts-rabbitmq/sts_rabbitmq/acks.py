"""A worker's acks, a few frames for many fires.

Each ack is a frame to write and, on a quorum queue, an entry in the queue's log: per fire,
it cost the worker and the broker about as much as the fire itself. ``Acks`` settles the
fires finished during one turn of the loop together: the ones that lead the channel's
unsettled deliveries with one ``multiple`` ack ("every delivery up to this tag"), any
other one alone. A ``multiple`` ack never covers a fire still under way: the deliveries
are registered in the order the broker sent them (``received``, the first thing a
consumer does), and the run only extends over the ones settled.
"""

from __future__ import annotations

import asyncio
import logging

from aio_pika.abc import AbstractIncomingMessage
from aiormq.abc import AbstractChannel

logger = logging.getLogger("sts.rabbitmq")


class Acks:
    def __init__(self) -> None:
        # By channel (a reconnection opens a new one, with tags from 1 again): each
        # delivery not settled yet, in the order received, and whether it is done.
        self._open: dict[AbstractChannel, dict[int, bool]] = {}
        self._flushing: asyncio.Task[None] | None = None
        # One flush at a time: the broker refuses (and closes the channel, which hands
        # every fire on it out again) an ack of a tag a ``multiple`` ack covered before
        # it, so each flush's acks are written before the next one chooses its own.
        self._one_at_a_time = asyncio.Lock()

    def received(self, message: AbstractIncomingMessage) -> None:
        """Call first thing for each delivery, before any ``await``."""
        channel, tag = _channel(message), message.delivery_tag
        if channel is not None and tag is not None:
            self._open.setdefault(channel, {})[tag] = False

    def forget(self, message: AbstractIncomingMessage) -> None:
        """A delivery settled otherwise (nacked, rejected): no ack covers it."""
        tags = self._open.get(_channel(message))  # type: ignore[arg-type]
        if tags is not None and message.delivery_tag is not None:
            tags.pop(message.delivery_tag, None)

    def ack(self, message: AbstractIncomingMessage) -> None:
        """Ack ``message`` with the others done in this turn (at once: no ``await``, so a
        cancellation cannot come between the decision and the ack)."""
        tags = self._open.get(_channel(message))  # type: ignore[arg-type]
        tag = message.delivery_tag
        if tags is None or tag is None or tag not in tags:
            return
        tags[tag] = True
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        """Send the acks of the deliveries done so far."""
        self._flushing = None
        async with self._one_at_a_time:
            await self._flush()

    async def _flush(self) -> None:
        for channel, tags in list(self._open.items()):
            leading: int | None = None
            for tag, done in list(tags.items()):
                if not done:
                    break
                leading = tag
                del tags[tag]
            alone = [tag for tag, done in tags.items() if done]
            for tag in alone:
                del tags[tag]
            try:
                if leading is not None:
                    await channel.basic_ack(leading, multiple=True)
                for tag in alone:
                    await channel.basic_ack(tag)
            except Exception as error:
                # The channel is gone (the connection blipped): the broker hands these
                # fires out again, and the copies are acked instead.
                logger.info("worker: could not ack on a closed channel (%s)", error)
                self._open.pop(channel, None)
                continue
            if not tags and channel.is_closed:
                self._open.pop(channel, None)


def _channel(message: AbstractIncomingMessage) -> AbstractChannel | None:
    """The channel ``message`` came on, or ``None`` once it closed."""
    try:
        return message.channel
    except Exception:
        return None

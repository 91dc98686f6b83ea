"""A worker's batched acks (sts_rabbitmq.acks) against the real broker, which closes the
channel (and hands every fire on it out again) on an ack of a tag it does not hold."""

from __future__ import annotations

import asyncio

import aio_pika
from rabbit_helpers import BROKER_URL, Namespace
from sts_rabbitmq.acks import Acks


async def _delivered(
    channel: aio_pika.abc.AbstractChannel, count: int
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    queue = await channel.declare_queue(exclusive=True)  # gone with the connection
    for number in range(count):
        await channel.default_exchange.publish(aio_pika.Message(b"%d" % number), queue.name)
    received: list[aio_pika.abc.AbstractIncomingMessage] = []
    arrived = asyncio.Event()

    async def take(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        received.append(message)
        if len(received) == count:
            arrived.set()

    await queue.consume(take)
    await asyncio.wait_for(arrived.wait(), 10)
    return received


def test_an_ack_covered_by_a_later_multiple_ack_is_never_sent_after_it(
    rabbit: Namespace,
) -> None:
    # Fires 1 and 3 finish in one turn: the flush acks 1 and then 3 alone (2 still runs).
    # Fires 2 and 4 finish while that flush waits for its first write: their flush acks
    # "up to 4", which covers 3. Sent before the first flush's ack of 3, that ack names a
    # tag the broker no longer holds.
    async def main() -> bool:
        connection = await aio_pika.connect(BROKER_URL)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=10)
            one, two, three, four = await _delivered(channel, 4)
            acks = Acks()
            for message in (one, two, three, four):
                acks.received(message)
            acks.ack(one)
            acks.ack(three)
            await asyncio.sleep(0)  # the first flush starts, and waits for its write
            acks.ack(two)
            acks.ack(four)
            await acks.flush()
            # A round trip on the channel: the broker has read the acks by its answer.
            await channel.declare_queue(exclusive=True)
            return channel.is_closed

    assert asyncio.run(main()) is False

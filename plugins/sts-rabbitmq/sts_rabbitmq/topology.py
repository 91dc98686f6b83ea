"""The exchanges and queues, declared the same way by the scheduler and by every worker
(declaring is idempotent; declaring with other arguments is refused by the broker, so
both sides take them from the same ``[rabbitmq]`` section).

- ``<prefix>.fires`` (direct exchange) routes each fire by its pool's name to the quorum
  queue ``<prefix>.fires.<pool>``, which dead-letters to ``<prefix>.dead``: messages
  that expired (their ``misfire_grace`` passed before a worker took them) and messages
  delivered ``delivery_limit`` times (they kill the workers that take them).
- ``<prefix>.dead`` (fanout exchange) -> the quorum queue ``<prefix>.dead``: also where a
  worker puts a fire it refuses (unknown job, a different definition) or whose run failed
  for good, with the reason in the header ``x-sts-reason``.
- ``<prefix>.outcomes.<scheduler>`` (quorum queue, default exchange): outcomes from the
  workers, for the scheduler of that name.
- ``<prefix>.claims.<scheduler>`` (a classic queue of the scheduler's connection: it lives
  while the scheduler does): claims, answered at once on each worker's own queue. A claim
  is worth nothing once its scheduler is gone (the worker asks again), so it is neither
  durable nor confirmed: the fast path to a run's start.
"""

from __future__ import annotations

from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from .settings import RabbitSettings

QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}


async def declare_exchanges(
    channel: AbstractChannel, settings: RabbitSettings
) -> tuple[AbstractExchange, AbstractExchange]:
    """The fires exchange and the dead-letter exchange, with the dead-letter queue."""
    fires = await channel.declare_exchange(
        settings.fires_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dead = await channel.declare_exchange(
        settings.dead_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead_queue = await channel.declare_queue(settings.dead_queue, durable=True, arguments=QUORUM)
    await dead_queue.bind(dead, routing_key="")
    return fires, dead


async def declare_pool(
    channel: AbstractChannel,
    settings: RabbitSettings,
    pool: str | None,
    fires: AbstractExchange,
) -> AbstractQueue:
    """The queue of one worker pool, bound to the fires exchange by the pool's name."""
    name = pool or settings.queue
    queue = await channel.declare_queue(
        settings.fires_queue(name),
        durable=True,
        arguments={
            **QUORUM,
            "x-dead-letter-exchange": settings.dead_exchange,
            "x-delivery-limit": settings.delivery_limit,
        },
    )
    await queue.bind(fires, routing_key=name)
    return queue


async def declare_claims(
    channel: AbstractChannel, settings: RabbitSettings, scheduler_name: str
) -> AbstractQueue:
    return await channel.declare_queue(
        settings.claims_queue(scheduler_name), durable=False, exclusive=True, auto_delete=True
    )


async def declare_outcomes(
    channel: AbstractChannel, settings: RabbitSettings, scheduler_name: str
) -> AbstractQueue:
    return await channel.declare_queue(
        settings.outcomes_queue(scheduler_name), durable=True, arguments=QUORUM
    )

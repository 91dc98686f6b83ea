"""sts-rabbitmq: runs executed by workers on other machines, through RabbitMQ.

Registers the executor ``rabbitmq`` (``executor = rabbitmq`` or ``rabbitmq:POOL`` in a job
or in ``[scheduler]``; options in ``[rabbitmq]``) and the command ``sts worker``. aio-pika
is imported when a scheduler first dispatches or a worker starts, not when the plugin
loads (``sts --help`` loads every plugin). See docs/plugins/rabbitmq.md.
"""

from __future__ import annotations

import typing

import sts

if typing.TYPE_CHECKING:
    from .executor import RabbitExecutor as RabbitExecutor
    from .settings import RabbitSettings as RabbitSettings
    from .worker import Worker as Worker

_API = {"RabbitExecutor": ".executor", "RabbitSettings": ".settings", "Worker": ".worker"}


@sts.hookimpl
def sts_register_executors(register: sts.RegisterExecutor) -> None:
    from .executor import RabbitExecutor

    register("rabbitmq", RabbitExecutor)


@sts.hookimpl
def sts_register_commands(register: sts.RegisterCommand) -> None:
    from .command import configure, handler

    register(
        "worker",
        configure,
        handler,
        help="run the fires a scheduler sends through RabbitMQ (executor = rabbitmq)",
    )


__all__, __getattr__, __dir__ = sts.lazy_exports(
    __name__, _API, eager=["sts_register_executors", "sts_register_commands"]
)
del typing

"""``sts worker [CONFIG] [--concurrency N] [--queue NAME]``: run the fires the scheduler
sends through RabbitMQ. It loads the same configuration as ``sts run`` (so it knows every
job's task and policies, and the ``[rabbitmq]`` section), and runs no schedule itself."""

from __future__ import annotations

import argparse
import signal

import sts


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG",
        help="the configuration the scheduler runs (found as `sts run` finds it by default)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive,
        default=4,
        metavar="N",
        help="runs at once: the prefetch of the queue (default: 4)",
    )
    parser.add_argument(
        "--queue",
        metavar="NAME",
        help="the worker pool to serve (jobs with executor = rabbitmq:NAME); "
        "default: [rabbitmq] queue",
    )


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return number


def handler(args: argparse.Namespace) -> int:
    # Imported here: `sts --help` registers this command without paying for asyncio or ssl.
    import asyncio

    from .settings import RabbitSettings
    from .worker import Worker

    # The scheduler is built (its jobs checked, logging and secrets set up) but never
    # started: the worker only needs the jobs' definitions.
    scheduler = sts.TaskScheduler.from_config(args.config, store=sts.MemoryStore())
    options = scheduler.executors.options.get("rabbitmq", {})
    settings = RabbitSettings.build(**options)
    worker = Worker(
        scheduler.jobs,
        settings,
        pool=args.queue,
        concurrency=args.concurrency,
        stop_grace=scheduler.stop_grace,
    )
    asyncio.run(_serve(worker))
    return 0


async def _serve(worker: object) -> None:
    import asyncio

    from .worker import Worker

    assert isinstance(worker, Worker)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await worker.run(stop)

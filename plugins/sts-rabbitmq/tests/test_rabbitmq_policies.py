"""Policies under the rabbitmq executor, on the real broker, with the scheduler and its
workers on one event loop: a timeout enforced on the worker, retries with backoff across
workers, the dead-letter queue and its reasons, config drift, misfire grace with no
worker, run now."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from unittest.mock import AsyncMock

import aio_pika
from rabbit_helpers import BROKER_URL, Namespace
from sts_rabbitmq import RabbitSettings, Worker

import sts

Body = Callable[[], Awaitable[None]]


class Probe(sts.Task):
    """A task whose work is a function the test gives (the same on every worker, as in a
    shared configuration)."""

    def __init__(self, body: Body, name: str) -> None:
        super().__init__(name=name)
        self.body = body

    async def run(self) -> None:
        await self.body()


@asynccontextmanager
async def cluster(
    rabbit: Namespace,
    schedule: Callable[[sts.TaskScheduler], None],
    *,
    workers: int = 2,
    worker_jobs: Callable[[sts.TaskScheduler], list[sts.Job]] | None = None,
) -> AsyncIterator[tuple[sts.TaskScheduler, list[Worker]]]:
    """A started scheduler with executor = rabbitmq, and ``workers`` workers on its jobs
    (or on ``worker_jobs(scheduler)``)."""
    options: dict[str, Any] = {"prefix": rabbit.prefix, "backstop": "3s", "claim_timeout": "2s"}
    scheduler = sts.TaskScheduler(
        name=rabbit.scheduler_name(),
        executor="rabbitmq",
        executor_options={"rabbitmq": options},
        loop_block_threshold=None,
        stop_grace="5s",
    )
    schedule(scheduler)
    jobs = worker_jobs(scheduler) if worker_jobs is not None else scheduler.jobs
    settings = RabbitSettings.build(**options)
    started = [Worker(jobs, settings, concurrency=4, stop_grace=2.0) for _ in range(workers)]
    stop = asyncio.Event()
    ready = [asyncio.Event() for _ in started]
    running = [
        asyncio.create_task(worker.run(stop, flag))
        for worker, flag in zip(started, ready, strict=True)
    ]
    await asyncio.gather(*(flag.wait() for flag in ready))
    try:
        async with scheduler:
            yield scheduler, started
    finally:
        stop.set()
        await asyncio.gather(*running)


def history(scheduler: sts.TaskScheduler, job: str) -> list[sts.RunRecord]:
    return list(reversed(scheduler.store.history(job, limit=100)))


def test_timeout_is_enforced_on_the_worker(rabbit: Namespace) -> None:
    async def hang() -> None:
        await asyncio.sleep(60)

    async def main() -> list[sts.RunRecord]:
        def schedule(scheduler: sts.TaskScheduler) -> None:
            scheduler.schedule(Probe(hang, "hang"), "every 1h", name="hang", timeout="1s")

        async with cluster(rabbit, schedule, workers=1) as (scheduler, _):
            record = await asyncio.wrap_future(scheduler.run_now("hang"))
            assert record.outcome is sts.Outcome.TIMED_OUT
            return history(scheduler, "hang")

    records = asyncio.run(main())
    assert [r.outcome for r in records] == [sts.Outcome.TIMED_OUT]
    record = records[0]
    assert record.error is not None and "timed out after 1s (on worker" in record.error
    assert record.duration is not None and 1.0 <= record.duration < 30  # killed there, not 60s
    assert "worker" in record.output


def test_retries_with_backoff_across_workers_then_the_dead_letter_queue(
    rabbit: Namespace,
) -> None:
    async def fail() -> None:
        raise RuntimeError("failing on purpose")

    async def main() -> list[sts.RunRecord]:
        def schedule(scheduler: sts.TaskScheduler) -> None:
            scheduler.schedule(
                Probe(fail, "fail"),
                "every 1h",
                name="fail",
                retries=3,
                backoff="200ms",
                backoff_jitter=0,
            )

        async with cluster(rabbit, schedule) as (scheduler, _):
            record = await asyncio.wrap_future(scheduler.run_now("fail"))
            assert record.outcome is sts.Outcome.FAILED and record.attempt == 4
            return history(scheduler, "fail")

    records = asyncio.run(main())
    assert [r.attempt for r in records] == [1, 2, 3, 4]
    assert all(r.outcome is sts.Outcome.FAILED for r in records)
    assert all(r.error == "RuntimeError: failing on purpose" for r in records)
    assert all(r.traceback and "failing on purpose" in r.traceback for r in records)
    # Backoff: 0.2, 0.4, 0.8 s between attempts, decided by the scheduler.
    for before, after, wait in zip(records, records[1:], (0.2, 0.4, 0.8), strict=False):
        assert before.retry_at is not None and after.started_at is not None
        assert after.started_at >= before.retry_at
        assert before.finished_at is not None
        assert (before.retry_at - before.finished_at).total_seconds() == wait
    assert records[-1].retry_at is None
    # Each attempt was its own message, for whichever worker of the pool took it.
    assert all(r.output["worker"].rpartition(":")[2].isdigit() for r in records)
    dead = asyncio.run(rabbit.dead_letters())
    assert len(dead) == 1  # only the last attempt: the others were retried
    reason = str((dead[0].headers or {})["x-sts-reason"])
    assert reason == "its run failed for good: RuntimeError: failing on purpose"
    assert json.loads(dead[0].body)["attempt"] == 4


def test_config_drift_is_refused_to_the_dead_letter_queue(rabbit: Namespace) -> None:
    ran: list[str] = []

    async def work() -> None:
        ran.append(sts.current_run().worker)

    def schedule(scheduler: sts.TaskScheduler) -> None:
        scheduler.schedule(Probe(work, "report"), "every 1h", name="report", timeout="10s")

    def drifted(scheduler: sts.TaskScheduler) -> list[sts.Job]:
        # The worker's configuration says timeout = 20s for the same job.
        other = sts.TaskScheduler(loop_block_threshold=None)
        other.schedule(Probe(work, "report"), "every 1h", name="report", timeout="20s")
        return other.jobs

    async def main() -> sts.RunRecord:
        async with cluster(rabbit, schedule, workers=1, worker_jobs=drifted) as (scheduler, _):
            return await asyncio.wrap_future(scheduler.run_now("report"))

    record = asyncio.run(main())
    assert ran == []
    assert record.outcome is sts.Outcome.FAILED
    assert record.error is not None and record.error.startswith("config drift: worker ")
    assert "defines job 'report' differently" in record.error
    dead = asyncio.run(rabbit.dead_letters())
    assert len(dead) == 1
    assert str((dead[0].headers or {})["x-sts-reason"]).startswith("config drift: worker ")


def test_unknown_job_and_poison_message_land_in_the_dead_letter_queue(
    rabbit: Namespace,
) -> None:
    async def work() -> None:
        return None

    def schedule(scheduler: sts.TaskScheduler) -> None:
        scheduler.schedule(Probe(work, "known"), "every 1h", name="known")
        scheduler.schedule(Probe(work, "secret"), "every 1h", name="secret")

    def fewer(scheduler: sts.TaskScheduler) -> list[sts.Job]:
        return [scheduler.get_job("known")]

    async def main() -> sts.RunRecord:
        import aio_pika

        async with cluster(rabbit, schedule, workers=1, worker_jobs=fewer) as (scheduler, _):
            record = await asyncio.wrap_future(scheduler.run_now("secret"))
            # Hostile input on the pool's queue: not JSON, then JSON of the wrong shape.
            connection = await aio_pika.connect(BROKER_URL)
            async with connection:
                channel = await connection.channel()
                for body in (b"\xff\xfe not json", b'{"v": 1, "job": 3}'):
                    await channel.default_exchange.publish(
                        aio_pika.Message(body), routing_key=f"{rabbit.prefix}.fires.default"
                    )
            for _ in range(100):
                if await rabbit.dead_letter_count() >= 3:
                    break
                await asyncio.sleep(0.1)
            # The worker lives on: the next fire runs.
            after = await asyncio.wrap_future(scheduler.run_now("known"))
            assert after.outcome is sts.Outcome.SUCCEEDED
            return record

    record = asyncio.run(main())
    assert record.outcome is sts.Outcome.FAILED
    assert record.error is not None and "unknown job 'secret' on worker" in record.error
    reasons = sorted(
        str((m.headers or {})["x-sts-reason"]) for m in asyncio.run(rabbit.dead_letters())
    )
    assert len(reasons) == 3
    assert reasons[0] == "not an STS fire: fire_time missing or not a str"
    assert reasons[1].startswith("not an STS fire: not JSON")
    assert reasons[2].startswith("unknown job 'secret' on worker")


def test_a_fire_no_worker_takes_within_misfire_grace_is_missed(rabbit: Namespace) -> None:
    async def work() -> None:
        return None

    def schedule(scheduler: sts.TaskScheduler) -> None:
        scheduler.schedule(Probe(work, "lonely"), "every 1h", name="lonely", misfire_grace="1s")

    async def main() -> sts.RunRecord:
        async with cluster(rabbit, schedule, workers=0) as (scheduler, _):
            return await asyncio.wrap_future(scheduler.run_now("lonely"))

    record = asyncio.run(main())
    assert record.outcome is sts.Outcome.MISSED
    assert record.error is not None
    assert "no worker started it within misfire_grace (1s)" in record.error
    assert f"{rabbit.prefix}.fires.default" in record.error
    # The broker expires the message (its TTL was the grace): it is dead-lettered, not
    # left for a worker that starts later.

    async def expired() -> int:
        for _ in range(200):
            if await rabbit.dead_letter_count():
                break
            await asyncio.sleep(0.1)
        return await rabbit.dead_letter_count()

    assert asyncio.run(expired()) == 1


def test_fires_that_finish_out_of_order_are_acked_once_and_never_handed_out_again(
    rabbit: Namespace,
) -> None:
    # A worker acks the fires done in a turn together (one `multiple` ack for those that
    # lead its unsettled deliveries). An ack the broker refuses closes the channel, and
    # every fire on it is delivered again: a claim refused, or a run taken over twice.
    ran: list[str] = []
    rng = random.Random(16)

    def probe(name: str) -> Body:
        pause = rng.uniform(0, 0.05)

        async def body() -> None:
            await asyncio.sleep(pause)
            ran.append(name)

        return body

    names = [f"j{number}" for number in range(150)]

    def schedule(scheduler: sts.TaskScheduler) -> None:
        for name in names:
            scheduler.schedule(Probe(probe(name), name), "every 1h", name=name)

    async def main() -> tuple[list[sts.RunRecord], dict[str, int], list[Worker]]:
        async with cluster(rabbit, schedule, workers=1) as (scheduler, workers):
            runs = [scheduler.run_now(name) for name in names]
            records = [await asyncio.wrap_future(run) for run in runs]
            executor: Any = await scheduler.executors.get("rabbitmq")
            return records, dict(executor.counts), workers

    records, counts, workers = asyncio.run(main())
    assert [record.outcome for record in records] == [sts.Outcome.SUCCEEDED] * len(names)
    assert sorted(ran) == sorted(names)
    assert counts["claims_refused"] == counts["takeovers"] == 0
    assert workers[0].counts["ran"] == len(names)
    assert workers[0].counts["refused"] == workers[0].counts["dropped"] == 0


def test_a_burst_goes_out_in_a_few_messages_split_between_the_workers(
    rabbit: Namespace,
) -> None:
    # Per message, the AMQP work (a publish, its frames, a confirm; a delivery and an ack
    # on the worker; an entry in the quorum queue's log) costs more CPU than the run of a
    # short task: the fires due in one turn travel together, as many messages as the pool
    # has workers (more past FIRES_PER_MESSAGE), so both workers get a share at once.
    ran: list[str] = []

    def probe(name: str) -> Body:
        async def body() -> None:
            ran.append(name)

        return body

    names = [f"burst{number}" for number in range(200)]

    def schedule(scheduler: sts.TaskScheduler) -> None:
        for name in names:
            scheduler.schedule(Probe(probe(name), name), "every 1h", name=name)

    async def main() -> tuple[list[sts.RunRecord], dict[str, int], list[Worker]]:
        async with cluster(rabbit, schedule, workers=2) as (scheduler, workers):
            # The pool is declared (and its workers counted) by the first fire.
            await asyncio.wrap_future(scheduler.run_now(names[0]))
            runs = [scheduler.run_now(name) for name in names[1:]]  # in one turn
            records = [await asyncio.wrap_future(run) for run in runs]
            executor: Any = await scheduler.executors.get("rabbitmq")
            return records, dict(executor.counts), workers

    records, counts, workers = asyncio.run(main())
    assert [record.outcome for record in records] == [sts.Outcome.SUCCEEDED] * 199
    assert sorted(ran) == sorted(names)
    assert counts["dispatched"] == 200
    delivered = sum(worker.counts["messages"] for worker in workers)
    print(f"200 fires: {counts['fire_messages']} messages published, {delivered} delivered")
    # The lone first fire, and the burst in a few messages (not one per fire).
    assert counts["fire_messages"] == delivered <= 1 + 8
    assert all(worker.counts["messages"] >= 1 for worker in workers)
    assert all(worker.counts["ran"] >= 200 // 4 for worker in workers), [
        worker.counts for worker in workers
    ]


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot say what went wrong")


def test_a_run_whose_error_cannot_be_described_runs_once_with_one_outcome(
    rabbit: Namespace,
) -> None:
    # Describing the error raised on the worker, which handed the message back: the copy
    # was granted to the same worker again and the attempt ran 6 times (review of attack
    # 16). A non-text output value made the scheduler refuse the whole outcome.
    runs: list[int] = []

    async def odd() -> None:
        runs.append(1)
        sts.current_run().output["count"] = 5  # type: ignore[assignment]
        raise _Unprintable()

    async def main() -> list[sts.RunRecord]:
        def schedule(scheduler: sts.TaskScheduler) -> None:
            scheduler.schedule(Probe(odd, "odd"), "every 1h", name="odd")

        async with cluster(rabbit, schedule, workers=1) as (scheduler, _):
            record = await asyncio.wrap_future(scheduler.run_now("odd"))
            assert record.outcome is sts.Outcome.FAILED, record
            await asyncio.sleep(1.5)  # a copy handed back would have run again by now
            return history(scheduler, "odd")

    records = asyncio.run(main())
    assert len(runs) == 1
    assert [r.outcome for r in records] == [sts.Outcome.FAILED]
    assert records[0].error == "_Unprintable"
    assert records[0].output.get("count") == "5"


def test_a_second_scheduler_of_one_name_takes_no_outcome_and_says_why(
    rabbit: Namespace, caplog: Any, monkeypatch: Any
) -> None:
    """One scheduler per name uses the executor (its claims queue is exclusive): a second
    one (a second replica of a group) takes none of the first one's outcomes, tries again
    only for ``LOCKED_RETRY`` (a restarted process whose old connection the broker still
    holds gets it then), says why it gives up, and misses its attempts at once. It does
    not keep trying: a standby that did took the queue during the first one's blip and
    left that one deaf to its workers (an attacker's find)."""
    from sts_rabbitmq import executor as executor_module
    from sts_rabbitmq.executor import RabbitExecutor

    monkeypatch.setattr(executor_module, "LOCKED_RETRY", 1.5)

    async def main() -> tuple[str | None, int, int, str | None]:
        name = rabbit.scheduler_name()
        first = RabbitExecutor(name, prefix=rabbit.prefix)
        second = RabbitExecutor(name, prefix=rabbit.prefix)
        late = AsyncMock()
        await first.start(late)
        await asyncio.wait_for(first._ready.wait(), 10)
        await second.start(late)
        assert second._connecting is not None
        await asyncio.wait_for(second._connecting, 15)  # gave up: it tries no more
        consumers = await _consumers(first.outcomes_queue)
        await first.aclose()
        await asyncio.sleep(1.5)
        after = await _consumers(first.outcomes_queue)
        fire = sts.Fire("r", "job", datetime.now(UTC), 1, False, datetime.now(UTC))
        job = sts.Job("job", Probe(asyncio.sleep, "job"), None, sts.JobPolicy())
        report = await asyncio.wait_for(second.execute(job, fire), 5)  # missed at once
        await second.aclose()
        return second._refused, consumers, after, report.error

    with caplog.at_level("WARNING", logger="sts.rabbitmq"):
        refused, consumers, after, error = asyncio.run(main())
    assert refused is not None and "another scheduler named" in refused
    assert (consumers, after) == (1, 0)
    assert error is not None and error.startswith("not dispatched: another scheduler named")
    assert "trying again" in caplog.text and "its remote attempts are missed" in caplog.text


async def _consumers(queue: str) -> int:
    connection = await aio_pika.connect(BROKER_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.consumer_count)


def test_outcomes_in_hand_across_a_blip_keep_the_prefetch_full_and_are_acked(
    rabbit: Namespace,
) -> None:
    """Outcomes whose records stall fill the prefetch; the connection blips. The broker
    hands them out again on the restored channel before the scheduler hears of the
    reconnection: the prefetch is still full (deaf: no takeover on a silence it cannot
    hear), and once the store is back every one is recorded and acked (a reviewer's find:
    the count was reset to 0 then, and the restored handlers were never nacked)."""
    from sts_rabbitmq.executor import RabbitExecutor
    from sts_rabbitmq.messages import WorkerMessage

    async def main() -> tuple[bool, int, int]:
        name = rabbit.scheduler_name()
        executor = RabbitExecutor(name, prefix=rabbit.prefix, prefetch=4)
        store_back = asyncio.Event()
        recorded: list[str] = []

        async def late(job: str, fire: Any, attempt: int, run_id: str, report: Any) -> None:
            await store_back.wait()
            recorded.append(run_id)

        await executor.start(late)
        await asyncio.wait_for(executor._ready.wait(), 10)
        connection = await aio_pika.connect(BROKER_URL)
        async with connection:
            channel = await connection.channel()
            for n in range(4):  # outcomes of attempts of a previous process: "late"
                sent = WorkerMessage("outcome", f"job@2026-01-01T00:00:0{n}+00:00", 1, f"r{n}", "w")
                sent.outcome, sent.instance = "succeeded", "i"
                await channel.default_exchange.publish(
                    aio_pika.Message(sent.encode()), routing_key=executor.outcomes_queue
                )
            while executor._full_since is None:
                await asyncio.sleep(0.05)
            heard = executor._listening_since
            assert executor._connection is not None
            await executor._connection.transport.connection.close(ConnectionError("blip"))
            while executor._listening_since in (heard, None):
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            full_after = executor._full_since is not None
            store_back.set()
            while executor._in_hand:
                await asyncio.sleep(0.05)
            await executor.aclose()
            queue = await channel.declare_queue(executor.outcomes_queue, passive=True)
            left = queue.declaration_result.message_count
        return full_after, len(set(recorded)), int(left or 0)

    assert asyncio.run(main()) == (True, 4, 0)

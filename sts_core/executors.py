"""Executors: where the attempts of a job's runs are carried out.

The scheduler decides *when* (triggers, misfire rules, overlap, retries); an executor does
the *work* of one attempt and reports how it ended. The default, ``local``, is the
in-process runner (``runner.py``), which runs the task on the scheduler's own loop. A
plugin registers others through ``sts_register_executors`` (``sts-rabbitmq`` sends each
attempt to a pool of workers); a job chooses one with ``executor = NAME`` or
``executor = NAME:TARGET`` (a target such as a queue), the scheduler with
``TaskScheduler(executor=...)`` or ``[scheduler] executor``.

A remote executor answers ``execute(job, fire)`` with an ``AttemptReport``; the runner keeps the
rest as for a local run: the overlap policy, the decision to retry and the backoff, the
record in the store, the hooks and the log.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .clock import Clock
from .executor_spec import LOCAL, parse_executor
from .plugins import PluginError
from .policy import MAX_BACKOFF, RetryAfter
from .records import Outcome, RunContext, RunRecord, _current_run
from .redaction import redact
from .store import found_at_a_restart

if TYPE_CHECKING:
    from .job import Job
    from .plugins import Plugins
    from .policy import JobPolicy
    from .runner import Runner

logger = logging.getLogger("sts")


@dataclass(frozen=True, slots=True)
class Fire:
    """One attempt of a run, as an executor receives it."""

    run_id: str
    job: str
    fire_time: datetime
    """The nominal fire time (not when the attempt was dispatched)."""
    attempt: int
    manual: bool
    dispatched_at: datetime
    """When the scheduler handed the attempt over: its misfire grace counts from the
    nominal fire time for a first attempt, from here for a retry."""
    target: str | None = None
    """What follows ``NAME:`` in the job's ``executor`` (a queue, a pool), if anything."""

    @property
    def idempotency_key(self) -> str:
        """``job@fire_time``: the same for every attempt of a fire, and across processes
        (``RunContext.idempotency_key``)."""
        return f"{self.job}@{self.fire_time.astimezone(UTC).isoformat()}"

    def start_deadline(self, grace: float | None) -> datetime | None:
        """The latest time the attempt may start under a misfire grace of ``grace``."""
        if grace is None:
            return None
        since = self.fire_time if self.attempt == 1 and not self.manual else self.dispatched_at
        return since + timedelta(seconds=grace)


@dataclass(slots=True)
class AttemptReport:
    """How an attempt ended, as an executor reports it."""

    outcome: Outcome
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    traceback: str | None = None
    output: dict[str, str] = field(default_factory=dict)
    retry: bool = False
    """Whether the job's retry policy grants another attempt (decided where the error is
    known, by its type)."""
    retry_after: float = 0.0
    """The least wait before the next attempt a task asked for (``sts.RetryAfter``)."""
    worker: str | None = None
    """Who ran it (``host:pid``), for the history."""
    redelivered: bool = False
    """Whether the attempt started again elsewhere after its first worker was lost."""
    on_recorded: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    """Called once the report's record is durable (a durable store committed it): an
    executor acknowledges the outcome to its peer only then, so a crash of the scheduler
    in between gets the outcome delivered again instead of losing it."""


#: ``await late(job, fire_time, attempt, run_id, report)``: an outcome of an attempt that
#: this scheduler process no longer follows (a previous process of it dispatched the
#: attempt, then crashed): recorded when it arrives, marked ``reconciled``; returns once
#: the record is durable (committed by a durable store).
LateOutcome = Callable[[str, datetime, int, str, "AttemptReport"], Awaitable[None]]


@runtime_checkable
class Executor(Protocol):
    """Carries out attempts. ``execute`` returns once the attempt's outcome is known;
    cancelling it withdraws the attempt as far as the executor can."""

    async def start(self, late: LateOutcome) -> None:
        """Connect; called once, before the first ``execute``. ``late`` records outcomes
        that arrive for attempts of a previous process of this scheduler."""
        ...

    async def execute(self, job: Job, fire: Fire) -> AttemptReport: ...

    async def aclose(self) -> None:
        """Disconnect; called when the scheduler stops, after its last run."""
        ...


class LocalExecutor:
    """The in-process runner: the ``Runner`` runs such attempts itself, on its loop."""

    in_process = True

    async def start(self, late: LateOutcome) -> None:
        return None

    async def execute(self, job: Job, fire: Fire) -> AttemptReport:  # pragma: no cover - not called
        raise RuntimeError("the local executor's attempts are run by the Runner itself")

    async def aclose(self) -> None:
        return None


class Executors:
    """The executors of one scheduler: made from the registry on first use, one instance
    per name, closed when the scheduler stops."""

    def __init__(
        self,
        plugins: Plugins,
        scheduler_name: str,
        default: str | None,
        options: Mapping[str, Mapping[str, Any]] | None,
        record: Callable[[RunRecord, int], None],
        clock: Clock,
        durable: Callable[[], Awaitable[None]],
        recorded: Callable[[str, str, int], Awaitable[list[RunRecord] | None]],
    ) -> None:
        self._plugins = plugins
        self._recorded = recorded
        self._record = record
        self._clock = clock
        self._durable = durable
        self._scheduler_name = scheduler_name
        self.default = LOCAL if default is None else default
        parse_executor(self.default)  # a bad default is an error when it is given
        #: Options of each executor factory, by executor name (``[rabbitmq]`` in a file).
        self.options: dict[str, dict[str, Any]] = {
            name: dict(values) for name, values in (options or {}).items()
        }
        self._made: dict[str, Executor] = {}
        # Late outcomes being recorded, by (job, run id, attempt): a second delivery of one
        # while the store is read for the first is the same outcome, not another record.
        self._reconciling: set[tuple[str, str, int]] = set()
        self._starting: dict[str, asyncio.Task[Executor]] = {}

    def spec_of(self, policy: JobPolicy) -> tuple[str, str | None]:
        """The executor name and target of a job with ``policy``."""
        return parse_executor(policy.executor or self.default)

    def is_local(self, policy: JobPolicy) -> bool:
        spec = policy.executor or self.default
        # The common case without a regular expression: runs are a hot path.
        return spec == LOCAL or parse_executor(spec)[0] == LOCAL

    async def open(self, jobs: Iterable[Job]) -> None:
        """Make and start the executors the jobs use, as the scheduler starts (a job added
        later with another executor gets it on its first attempt). An executor that is not
        installed is logged here, and fails each attempt that needs it, saying so."""
        names = {self.spec_of(job.policy)[0] for job in jobs}
        names.add(parse_executor(self.default)[0])
        for name in sorted(names - {LOCAL}):
            try:
                await self.get(name)
            except PluginError as error:
                logger.error("%s", error)
            except Exception:  # a plugin's bug: its jobs' attempts fail, the rest run
                logger.exception("the executor %r failed to start", name)

    async def get(self, name: str) -> Executor:
        """The started executor named ``name``, made and started on first use (once, even
        when many attempts ask at the same time)."""
        made = self._made.get(name)
        if made is not None:
            return made
        starting = self._starting.get(name)
        if starting is None:
            starting = asyncio.get_running_loop().create_task(self._make(name))
            self._starting[name] = starting
        try:
            return await asyncio.shield(starting)
        finally:
            if starting.done():
                self._starting.pop(name, None)

    async def _make(self, name: str) -> Executor:
        factory = self._plugins.executors.get(name, needed_by="a job's executor")
        executor: Executor = factory(self._scheduler_name, **self.options.get(name, {}))
        await executor.start(self.late)
        self._made[name] = executor
        return executor

    async def late(
        self, job: str, fire_time: datetime, attempt: int, run_id: str, report: AttemptReport
    ) -> None:
        """Record an outcome that arrived for an attempt a previous process dispatched;
        return once the record is durable.

        Recorded only when the store holds nothing for the attempt but the ``interrupted``
        record a restart made (or nothing: pruned, or a store that cannot tell): a previous
        process that recorded the attempt ``cancelled`` (stopped past ``stop_grace``),
        ``timed_out`` or ``interrupted`` by its backstop (a lost worker), or ``cancelled``
        by ``overlap = replace`` has its record already, and a second one would count the
        attempt twice. Decided from the store, not from this process's memory: the attempt
        may have been found interrupted two restarts ago, or by a replica that took over a
        dead one's runs. A store that cannot be read now gets the outcome recorded (a
        second record rather than none)."""
        key = (job, run_id, attempt)
        if key in self._reconciling:
            logger.info(
                "job=%s run=%s attempt %d: dropped a second copy of a late outcome being "
                "recorded",
                *key,
            )
            return
        self._reconciling.add(key)
        try:
            recorded = await self._recorded(job, run_id, attempt)
            kept = [r.outcome for r in recorded or () if not found_at_a_restart(r)]
            if kept:
                logger.warning(
                    "job=%s run=%s attempt %d: dropped a late outcome (%s, worker %s): the "
                    "attempt is recorded %s already",
                    job,
                    run_id,
                    attempt,
                    report.outcome.value,
                    report.worker,
                    kept[0].value,
                )
                return
            record = record_of(report, run_id, job, fire_time, attempt, False, self._clock)
            record.output["reconciled"] = (
                "its outcome arrived after the scheduler restarted (the attempt was "
                "recorded interrupted when it did)"
            )
            self._record(record, level_of(report.outcome))
            await self._durable()
        finally:
            self._reconciling.discard(key)

    async def aclose(self) -> None:
        """Close every executor made (each on its own: one failing does not keep the
        others open)."""
        made, self._made = self._made, {}
        for name, executor in made.items():
            try:
                await executor.aclose()
            except Exception:
                logger.exception("the executor %r failed to close", name)


# -- a remote attempt, for the Runner --------------------------------------------------------


async def remote_attempt(
    runner: Runner,
    executors: Executors,
    job: Job,
    context: RunContext,
    rng: random.Random,
    clock: Clock,
) -> RunRecord:
    """One attempt of ``job`` carried out by its (non-local) executor: the record the
    Runner keeps, with ``retry_at`` set when the retry policy grants another attempt.

    ``job`` is the run's view of its job (:meth:`Job.as_run_started`): the task and
    policy the run started with, whatever a live reload changed since."""
    name, target = executors.spec_of(job.policy)
    fire = Fire(
        context.run_id,
        job.name,
        context.fire_time,
        context.attempt,
        context.manual,
        context.started_at,
        target,
    )
    try:
        executor = await executors.get(name)
        report = await executor.execute(job, fire)
    except asyncio.CancelledError as cancelled:
        reason = cancelled.args[0] if cancelled.args else None
        report = AttemptReport(
            Outcome.CANCELLED, error=f"cancelled: {reason}" if reason else "cancelled"
        )
    except Exception as error:
        # The executor itself failed (a plugin bug, a refused option): a failed attempt,
        # retried like any other, and never the end of the scheduler's loop.
        if isinstance(error, PluginError):  # no such executor: one line says it all
            logger.error("job=%s run=%s: %s", job.name, context.run_id, error)
        else:
            logger.exception("executor %r failed: job=%s run=%s", name, job.name, context.run_id)
        report = AttemptReport(
            Outcome.FAILED,
            error=redact(f"executor {name!r} failed: {type(error).__name__}: {error}"),
            retry=job.policy.retry.should_retry(error, context.attempt),
        )
    record = record_of(
        report, context.run_id, job.name, context.fire_time, context.attempt, context.manual, clock
    )
    if (
        report.retry
        and report.outcome in (Outcome.FAILED, Outcome.TIMED_OUT)
        and not runner.stopping
        and context.attempt <= job.policy.retry.retries
    ):
        hint = RetryAfter(report.retry_after) if report.retry_after else None
        delay = job.policy.retry.delay(context.attempt, rng, hint)
        delay = min(max(delay, 0.0), MAX_BACKOFF)
        assert record.finished_at is not None
        record.retry_at = record.finished_at + timedelta(seconds=delay)
    runner.record(record, level_of(report.outcome))
    if report.on_recorded is not None:
        await runner.durable()
        report.on_recorded()
    return record


def record_of(
    report: AttemptReport,
    run_id: str,
    job: str,
    fire_time: datetime,
    attempt: int,
    manual: bool,
    clock: Clock,
) -> RunRecord:
    """The record of an attempt an executor reported: like a local run's, plus the worker
    that ran it and whether it was redelivered (in ``output``, shown by ``sts show``)."""
    record = RunRecord(
        run_id=run_id,
        job=job,
        fire_time=fire_time,
        outcome=report.outcome,
        attempt=attempt,
        started_at=report.started_at,
        finished_at=report.finished_at or clock.now(),
        # The worker redacts what it knows; this process may know other secrets.
        error=None if report.error is None else redact(report.error),
        traceback=None if report.traceback is None else redact(report.traceback),
        manual=manual,
        missed_count=1 if report.outcome is Outcome.MISSED else 0,
        output={key: redact(text) for key, text in report.output.items()},
    )
    if report.worker:
        record.output["worker"] = report.worker
    if report.redelivered:
        record.output["redelivered"] = "yes: its first worker was lost, another one ran it"
    return record


def level_of(outcome: Outcome) -> int:
    if outcome is Outcome.SUCCEEDED:
        return logging.INFO
    return logging.WARNING if outcome is Outcome.MISSED else logging.ERROR


# -- an attempt in this process, for workers -------------------------------------------------


async def run_in_process(job: Job, context: RunContext) -> tuple[Outcome, BaseException | None]:
    """Run one attempt of ``job``'s task here, under its timeout, with ``context`` as
    ``sts.current_run()``: what a worker does with an attempt it received. Returns the
    outcome and the error (``None`` on success). Never raises for the task's errors."""
    _current_run.set(context)
    timeout = job.policy.timeout
    try:
        if timeout is None:
            await job.task.run()
        else:
            async with asyncio.timeout(timeout) as deadline:
                await job.task.run()
        return Outcome.SUCCEEDED, None
    except asyncio.CancelledError as cancelled:
        return Outcome.CANCELLED, cancelled
    except TimeoutError as timeout_error:
        if timeout is not None and deadline.expired():
            return Outcome.TIMED_OUT, timeout_error
        return Outcome.FAILED, timeout_error
    except BaseException as failure:  # a task's SystemExit must not stop the worker
        return Outcome.FAILED, failure

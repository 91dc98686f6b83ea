"""Running the fires of jobs: the overlap policy, attempts with retries and timeouts, and
the record of every outcome (in the store, to the hooks and listeners, in the log)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import itertools
import logging
import os
import random
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .events import Notifier
from .executors import Executors, remote_attempt
from .host import Host
from .job import Job
from .logfields import job_fields, run_record_fields, run_started_fields
from .policy import MAX_BACKOFF, JobPolicy, SetupError
from .records import Outcome, RunContext, RunRecord, _current_run
from .redaction import SecretError, redact
from .store import AttemptLookup, DurableStore
from .task import Task, thread_pool

T = TypeVar("T")

logger = logging.getLogger("sts")

RunDone = concurrent.futures.Future[RunRecord]


_RUN_ID_PREFIX = os.urandom(4).hex()
_run_numbers = itertools.count(1)


def new_run_id() -> str:
    """16 hex digits: 8 random per process, then a counter, so unique across processes
    without asking the OS for randomness on every run."""
    return f"{_RUN_ID_PREFIX}{next(_run_numbers):08x}"


def error_line(error: BaseException) -> str:
    """``Type: message``, or the type alone when the message is empty."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def traceback_text(error: BaseException) -> str:
    """The traceback of ``error`` (and of its causes), without the ``^^^^`` markers.

    Python 3.11 finds those markers by parsing each frame's source line: a third of the
    time here (100 µs instead of 300 for a traceback of three frames), and a job that
    fails every second pays it every second. Lines are read from the cache, unchecked.
    """
    summary = traceback.TracebackException.from_exception(error, lookup_lines=False)
    seen: set[int] = set()
    chained: traceback.TracebackException | None = summary
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        for frame in chained.stack:
            frame.colno = None  # no column: no markers to compute
        chained = chained.__cause__ or (
            None if chained.__suppress_context__ else chained.__context__
        )
    return redact("".join(summary.format()))


class Runner:
    """Starts and follows the runs of one scheduler's jobs."""

    def __init__(
        self,
        scheduler: Host,
        notifier: Notifier,
        rng: random.Random,
        max_workers: int | None,
    ) -> None:
        self._scheduler = scheduler
        self._notifier = notifier
        self._rng = rng
        self.max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        #: Runs under way, for the scheduler's graceful stop.
        self.inflight: set[asyncio.Task[None]] = set()
        #: Set while the scheduler stops: no retries, no queued runs start.
        self.stopping = False
        # Runs start in a copy of this context, where sync tasks find this scheduler's pool.
        self._context: contextvars.Context | None = None
        #: A durable store's ``committed``: what an attempt awaits before its task runs.
        self.committed: Callable[[], Awaitable[None] | None] | None = None
        #: Called when a run starts while none is under way (the loop watchdog's cue).
        self.on_busy: Callable[[], None] | None = None
        #: Where attempts run when a job's executor is not ``local`` (``executors.py``).
        self.executors: Executors | None = None

    # -- starting runs ----------------------------------------------------------------------

    def start(self, job: Job, fire: datetime) -> None:
        """Start a run of ``job`` for the fire at ``fire``, as its overlap policy says."""
        if job.running:
            mode = job.policy.overlap
            if mode == "skip" or (mode == "queue" and job.queued is not None):
                error = f"the previous run was still running (overlap = {mode})"
                self._not_run(job, fire, Outcome.SKIPPED, error, logging.WARNING)
                return
            if mode == "queue":
                job.queued = fire
                logger.debug(
                    "overlap: job=%s fire %s queued behind the running run",
                    job.name,
                    fire.isoformat(),
                    extra=job_fields("fire_queued", job.name, fire_time=fire.isoformat()),
                )
                return
            if mode == "replace":
                for running in job.running:
                    running.cancel("replaced by a newer fire (overlap = replace)")
        self.launch(job, fire, manual=False, done=None)

    def launch(self, job: Job, fire: datetime, *, manual: bool, done: RunDone | None) -> None:
        """Start a run now, whatever the overlap policy says."""
        base = self._context
        run_id = new_run_id()
        run = asyncio.get_running_loop().create_task(
            self._execute(job, fire, run_id, manual, done),
            # The name says which run a task is, in the loop watchdog's warnings. (Python
            # 3.11 formats a default "Task-N" name for every task anyway.)
            name=f"job={job.name} run={run_id}",
            context=None if base is None else base.copy(),  # each run its own current_run
        )
        if not self.inflight and self.on_busy is not None:
            self.on_busy()
        self.inflight.add(run)
        if job.running is None:
            job.running = set()
        job.running.add(run)

    def record_missed(
        self, job: Job, count: int, first: datetime, last: datetime, now: float, reason: str
    ) -> None:
        """One record for ``count`` fires, ``first`` .. ``last``, that did not run."""
        span = first.isoformat() if count == 1 else f"{first.isoformat()} .. {last.isoformat()}"
        lateness = now - last.timestamp()
        error = f"{count} fire(s) missed ({span}): started {lateness:.3f}s late, {reason}"
        self._not_run(job, last, Outcome.MISSED, error, logging.WARNING, missed_count=count)

    def record_set_aside(self, job: Job, fire: datetime, reason: str, error: BaseException) -> None:
        """The record of a fire that could not be handled (a broken trigger): ``failed``,
        saying the job is paused. Logged by the caller, once, so only at debug level here."""
        self._not_run(
            job,
            fire,
            Outcome.FAILED,
            f"job set aside (paused until resumed): {reason}",
            logging.DEBUG,
            traceback=traceback_text(error),
        )

    def _not_run(
        self, job: Job, fire: datetime, outcome: Outcome, error: str, level: int, **fields: Any
    ) -> None:
        """Record a fire that did not run (skipped, missed, set aside)."""
        record = RunRecord(new_run_id(), job.name, fire, outcome, error=error, **fields)
        self.record(record, level)

    # -- a run, attempt by attempt ----------------------------------------------------------

    async def _execute(
        self, job: Job, fire: datetime, run_id: str, manual: bool, done: RunDone | None
    ) -> None:
        this = asyncio.current_task()
        record: RunRecord | None = None
        # A store shared by replicas (ClaimingStore) decides which one runs a scheduled fire.
        claim: Callable[[str, datetime], Awaitable[bool]] | None = (
            None if manual else getattr(self._scheduler.store, "claim_fire", None)
        )
        claimed = claim is None
        try:
            if claim is not None:
                claimed = await self._claimed(claim, job, fire)
                if not claimed:
                    return
            # Taken once: a live reload that changes the job leaves this run as it started.
            task, policy = job.task, job.policy
            if policy.jitter and not manual:
                await asyncio.sleep(self._rng.uniform(0, policy.jitter))
            attempt = 1
            while True:
                record = await self._attempt(job, task, policy, fire, run_id, attempt, manual)
                if record.retry_at is None:
                    break
                clock = self._scheduler.clock
                await asyncio.sleep(max(0.0, (record.retry_at - clock.now()).total_seconds()))
                attempt += 1
        except (asyncio.CancelledError, Exception) as error:
            cancelled = isinstance(error, asyncio.CancelledError)
            if not claimed:  # stopped while claiming: the fire is not this replica's to record
                if not cancelled:
                    logger.exception("claiming fire of job=%s failed inside STS", job.name)
                return
            if not cancelled:
                # STS itself failed around the task (a store or a listener): the run still
                # gets a record if one can be written, and the loop goes on.
                logger.exception("run of job=%s run=%s failed inside STS", job.name, run_id)
            record = RunRecord(
                run_id=run_id,
                job=job.name,
                fire_time=fire,
                # Cancelled between attempts (jitter or backoff): the next attempt never starts.
                outcome=Outcome.CANCELLED if cancelled else Outcome.FAILED,
                attempt=record.attempt + 1 if record else 1,
                error=(
                    "cancelled before the attempt started"
                    if cancelled
                    else redact(f"STS failed around the task: {error_line(error)}")
                ),
                manual=manual,
            )
            try:
                self.record(record, logging.WARNING if cancelled else logging.DEBUG)
            except Exception:
                logger.exception("the record of run %s could not be kept", run_id)
        finally:
            self.inflight.discard(this)
            if job.running is not None:
                job.running.discard(this)
                if not job.running:
                    job.running = None
            if done is not None and not done.done():
                if record is None:
                    done.set_exception(RuntimeError("the run ended without a record"))
                else:
                    done.set_result(record)
            if job.queued is not None and not job.running and not self.stopping:
                queued, job.queued = job.queued, None
                self.launch(job, queued, manual=False, done=None)

    async def _attempt(
        self,
        job: Job,
        task: Task,
        policy: JobPolicy,
        fire: datetime,
        run_id: str,
        attempt: int,
        manual: bool,
    ) -> RunRecord:
        scheduler = self._scheduler
        started = scheduler.clock.now()
        context = RunContext(run_id, job.name, fire, attempt, started, manual, {}, scheduler.name)
        _current_run.set(context)
        scheduler.store.run_started(context)
        self._notifier.run_started(context)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "run started: job=%s run=%s attempt=%d",
                job.name,
                run_id,
                attempt,
                extra=run_started_fields(context),
            )
        executors = self.executors
        if executors is not None and not executors.is_local(policy):
            await self.durable()
            view = job.as_run_started(task, policy)
            return await remote_attempt(self, executors, view, context, self._rng, scheduler.clock)
        error: BaseException | None = None
        try:
            await self.durable()
            if policy.timeout is None:
                await task.run()
            else:
                async with asyncio.timeout(policy.timeout) as deadline:
                    await task.run()
            outcome = Outcome.SUCCEEDED
        except asyncio.CancelledError as cancelled:
            outcome, error = Outcome.CANCELLED, cancelled
        except TimeoutError as timeout_error:
            outcome, error = Outcome.FAILED, timeout_error
            if policy.timeout is not None and deadline.expired():
                outcome = Outcome.TIMED_OUT
        except BaseException as failure:  # a task's SystemExit must not stop the scheduler
            outcome, error = Outcome.FAILED, failure
        finished = scheduler.clock.now()
        record = RunRecord(
            run_id=run_id,
            job=job.name,
            fire_time=fire,
            outcome=outcome,
            attempt=attempt,
            started_at=started,
            finished_at=finished,
            manual=manual,
        )
        if error is not None:
            _describe_failure(record, error, policy.timeout)
            if (
                outcome is not Outcome.CANCELLED
                and not self.stopping
                and policy.retry.should_retry(error, attempt)
            ):
                delay = policy.retry.delay(attempt, self._rng, error)
                # A RetryPolicy subclass may answer anything: keep the retry time a datetime.
                if not 0.0 <= delay <= MAX_BACKOFF:
                    delay = MAX_BACKOFF if delay > MAX_BACKOFF else 0.0
                record.retry_at = finished + timedelta(seconds=delay)
        if context.output:
            record.output = {key: redact(text) for key, text in context.output.items()}
        level = logging.INFO if outcome is Outcome.SUCCEEDED else logging.ERROR
        self.record(record, level, error if outcome is Outcome.FAILED else None)
        return record

    async def _claimed(
        self, claim: Callable[[str, datetime], Awaitable[bool]], job: Job, fire: datetime
    ) -> bool:
        """Whether this scheduler won the scheduled fire (a ``ClaimingStore``'s answer)."""
        won = bool(await self._real(claim(job.name, fire)))
        if not won and logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "fire %s of job=%s not run here: another replica claimed it",
                fire.isoformat(),
                job.name,
                extra=job_fields("fire_claimed_elsewhere", job.name, fire_time=fire.isoformat()),
            )
        return won

    async def durable(self) -> None:
        """Commit before run: wait until the fire's next-fire state (saved when it fired)
        and this attempt's start are on disk, so that a crash during the run neither runs
        the fire again nor loses the run. Runs started together share one commit."""
        if self.committed is not None:
            waiting = self.committed()
            if waiting is not None:
                await self._real(waiting)

    def _real(self, work: Awaitable[T]) -> Awaitable[T]:
        """``work`` done off the loop (the disk, a thread): a virtual clock must not jump
        ahead while it takes real time."""
        wait_real = getattr(self._scheduler.clock, "wait_real", None)
        return work if wait_real is None else wait_real(work)

    # -- records ----------------------------------------------------------------------------

    async def recorded(self, job: str, run_id: str, attempt: int) -> list[RunRecord] | None:
        """What the store recorded for one attempt; ``None`` when it cannot tell (it is no
        :class:`AttemptLookup`, or its read failed)."""
        store = self._scheduler.store
        if not isinstance(store, AttemptLookup):
            return None
        try:
            if isinstance(store, DurableStore):
                # Its read may wait for its writer or its server: off the loop, which
                # keeps answering workers' claims and holds meanwhile.
                reading = asyncio.to_thread(store.attempt_records, job, run_id, attempt)
                return await self._real(reading)
            return store.attempt_records(job, run_id, attempt)
        except Exception as error:  # a store that cannot be read now: a doubled record
            # is better than a lost outcome (the executor would hand it back, then drop it)
            logger.warning(
                "job=%s run=%s attempt %d: cannot tell whether the attempt is recorded "
                "already (%s); its late outcome is recorded",
                job,
                run_id,
                attempt,
                redact(str(error)),
            )
            return None

    def record(self, record: RunRecord, level: int, error: BaseException | None = None) -> None:
        """Keep ``record``: in the store, to hooks and listeners, in the log at ``level``."""
        self._scheduler.store.record_run(record)
        self._notifier.run_finished(record)
        if not logger.isEnabledFor(level):
            return
        if record.outcome in (Outcome.MISSED, Outcome.SKIPPED):
            logger.log(
                level,
                "fire %s: job=%s %s",
                record.outcome,
                record.job,
                record.error,
                extra=run_record_fields(record, f"fire_{record.outcome}"),
            )
            return
        retry = f" retry_at={record.retry_at.isoformat()}" if record.retry_at else ""
        reason = f" error={record.error!r}" if record.error else ""
        logger.log(
            level,
            "run finished: job=%s run=%s attempt=%d outcome=%s duration=%.3fs%s%s",
            record.job,
            record.run_id,
            record.attempt,
            record.outcome,
            record.duration or 0.0,
            reason,
            retry,
            # An expected set-up problem (a missing executable or secret) is one line a
            # fire: its traceback says nothing more, and is kept in the record anyway.
            exc_info=None if isinstance(error, SetupError | SecretError) else error,
            extra=run_record_fields(record),
        )

    # -- threads for sync tasks -------------------------------------------------------------

    def open_threads(self) -> None:
        """Make the thread pool (threads start on first use) and the context runs start in."""
        self._executor = ThreadPoolExecutor(
            max_workers=self.max_workers, thread_name_prefix=f"sts-{self._scheduler.name}"
        )
        context = contextvars.copy_context()
        context.run(thread_pool.set, self._executor)
        self._context = context

    def shutdown_threads(self) -> None:
        """Stop the thread pool; threads still running a sync task are left to finish."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._context = None


def _describe_failure(record: RunRecord, error: BaseException, timeout: float | None) -> None:
    if record.outcome is Outcome.TIMED_OUT:
        record.error = f"timed out after {timeout:g}s"
    elif record.outcome is Outcome.CANCELLED:
        reason = error.args[0] if error.args else None
        record.error = f"cancelled: {reason}" if reason else "cancelled"
    else:
        # A task's error may quote a secret it resolved: the store never gets it.
        record.error = redact(error_line(error))
        record.traceback = traceback_text(error)

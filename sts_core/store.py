"""The state store: each job's state and a bounded run history.

The engine calls a store synchronously on its event loop, so a store must be quick:
one that writes to disk buffers and writes in batches (``flush``). The in-memory store
here is the default for the Python API; ``sqlite`` (``sts_core.service.sqlite_store``) is the
default for ``sts run``, and plugins add more through ``sts_register_state_stores``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .records import Outcome, RunContext, RunRecord

if TYPE_CHECKING:
    import logging  # `sts --help` imports this module (the memory store), not logging

#: Kept per job, like a Kubernetes CronJob's history limits.
DEFAULT_SUCCESS_HISTORY = 20
DEFAULT_FAILURE_HISTORY = 20


@dataclass(slots=True)
class JobState:
    """What a store keeps of a job between runs of the process."""

    name: str
    next_fire: datetime | None = None
    last_fire: datetime | None = None
    paused: bool = False
    schedule: str = ""
    #: Why STS paused the job itself (its trigger broke), shown until it is resumed.
    paused_reason: str | None = None


@runtime_checkable
class StateStore(Protocol):
    """Where job state and run history live."""

    def load_jobs(self) -> dict[str, JobState]:
        """Every stored job's state, by name."""
        ...

    def save_job(self, state: JobState) -> None:
        """Insert or replace a job's state."""
        ...

    def remove_job(self, name: str) -> None:
        """Forget a job, with its history."""
        ...

    def run_started(self, run: RunContext) -> None:
        """An attempt started: a store that survives a crash keeps it until it finishes."""
        ...

    def record_run(self, record: RunRecord) -> None:
        """An attempt ended, or a fire did not run."""
        ...

    def history(
        self, job: str | None = None, *, limit: int = 50, failed_only: bool = False
    ) -> list[RunRecord]:
        """Recent records, newest first."""
        ...

    def recover_interrupted(self) -> list[RunRecord]:
        """Mark runs left in flight by a previous process as interrupted (records with no
        ``finished_at``: no process saw them end); return them."""
        ...

    def flush(self) -> None:
        """Write anything buffered."""
        ...

    def close(self) -> None:
        """Flush and release the store."""
        ...


@runtime_checkable
class DurableStore(StateStore, Protocol):
    """A store that keeps state across processes (a file, a server), so that what it holds
    must come from one scheduler at a time and be on disk before a run starts.

    The scheduler calls :meth:`acquire` when it starts, before it recovers or fires
    anything, and awaits :meth:`committed` before each attempt runs its task. Its reads
    (``history``, ``load_jobs``) may be called from any thread (the control socket reads
    off the event loop) and never wait on the loop.
    """

    def acquire(self) -> None:
        """Become the only scheduler writing this state, until ``close()``.

        :raises Exception: when another scheduler holds it, with a message naming the
            state (file, database) and the holder (pid and host).
        """
        ...

    def committed(self) -> Awaitable[None] | None:
        """On the event loop: an awaitable done once every write made so far is durable
        (or has failed, then logged); ``None`` when nothing waits to be written."""
        ...


@runtime_checkable
class ClaimingStore(StateStore, Protocol):
    """A store shared by several schedulers (replicas of one group) that must run each
    scheduled fire once between them.

    Every replica fires every job on its own; before a scheduled run starts (before its
    jitter and first attempt), the runner awaits :meth:`claim_fire` and runs the fire only
    on ``True``. Manual runs (``run_now``, ``sts trigger``) are not claimed: the replica
    asked runs them. Records of fires that did not run (missed, skipped) are the store's to
    keep once for the group.
    """

    def claim_fire(self, job: str, fire_time: datetime) -> Awaitable[bool]:
        """On the event loop: an awaitable answering whether this scheduler won the fire
        ``(job, fire_time)`` and must run it; ``False`` when another replica has it (or it
        cannot be claimed now: the store then records it). The same ``(job, fire_time)``
        is won by one replica only. It should not raise: a claim that raises is logged as
        an error and the fire is not recorded by this replica, which cannot know whether
        another one won it."""
        ...


@runtime_checkable
class AttemptLookup(Protocol):
    """A store that can tell what it recorded for one attempt: a remote executor's outcome
    that arrives after a restart is recorded only when the attempt's only records are the
    ``interrupted`` ones a restart made (a store without this records every such outcome,
    so an attempt recorded ``cancelled`` or ``timed_out`` may get a second record)."""

    def attempt_records(self, job: str, run_id: str, attempt: int) -> list[RunRecord]:
        """The records of attempt ``attempt`` of run ``run_id`` of ``job``, in the order
        they were recorded: empty when none, or when they were pruned from the history. A
        durable store answers from any thread and sees the writes made before the call as
        far as its reads wait for them (a read does not wait longer than its
        ``read_timeout`` for a stuck writer). It may raise: the outcome is then recorded."""
        ...


def found_at_a_restart(record: RunRecord) -> bool:
    """Whether ``record`` is one ``recover_interrupted`` made: an attempt a process left
    in flight, whose end nobody saw (an ``interrupted`` record that an executor made, of a
    worker it lost, has its ``finished_at``)."""
    return record.outcome is Outcome.INTERRUPTED and record.finished_at is None


_FAILED = frozenset({Outcome.FAILED, Outcome.TIMED_OUT, Outcome.INTERRUPTED, Outcome.MISSED})


class WriteRetries:
    """The pace of a store's background writer: a commit every ``interval``; after a
    failed one, twice as long each time (up to :attr:`MAX_DELAY`), the writes kept. An
    outage is logged once, when it starts, and once when it ends."""

    MAX_DELAY = 5.0

    def __init__(self, interval: float, where: object, logger: logging.Logger) -> None:
        self.interval = interval
        self.where = where
        self.logger = logger
        #: How long the writer waits before its next commit.
        self.delay = interval
        #: The error of the batch that failed last, while writes fail; ``None`` when healthy.
        self.failing: str | None = None

    def failed(self, error: BaseException) -> None:
        self.delay = min(max(self.delay * 2, self.interval), self.MAX_DELAY)
        if self.failing is None:  # said once per outage, not on every retry
            self.logger.error(
                "%s; the writes are kept and tried again every %gs at most", error, self.MAX_DELAY
            )
        self.failing = str(error)

    def succeeded(self) -> None:
        if self.failing is not None:
            self.logger.warning("the state database %s is written again", self.where)
        self.failing = None
        self.delay = self.interval


def is_failure(outcome: Outcome) -> bool:
    """Whether an outcome counts against the failed-history limit (and ``--failed``)."""
    return outcome in _FAILED


class MemoryStore:
    """Keeps everything in memory, for the life of the process."""

    def __init__(
        self,
        *,
        success_history: int = DEFAULT_SUCCESS_HISTORY,
        failure_history: int = DEFAULT_FAILURE_HISTORY,
    ) -> None:
        # Job states as tuples of plain values, for the same reason as the records below:
        # one is replaced on every fire, and an object would outlive young collections.
        self._jobs: dict[str, tuple[Any, ...]] = {}
        self._success_limit = success_history
        self._failure_limit = failure_history
        # (sequence number, *record fields): the number orders records across jobs, newest
        # first. Records are kept as flat tuples of plain values, not RunRecord objects:
        # the garbage collector stops tracking such tuples, so a large history does not
        # make every full collection (a pause of the event loop) longer.
        self._succeeded: dict[str, deque[tuple[Any, ...]]] = {}
        self._failed: dict[str, deque[tuple[Any, ...]]] = {}
        self._counter = 0

    def load_jobs(self) -> dict[str, JobState]:
        return {name: JobState(*state) for name, state in self._jobs.items()}

    def save_job(self, state: JobState) -> None:
        self._jobs[state.name] = (
            state.name,
            state.next_fire,
            state.last_fire,
            state.paused,
            state.schedule,
            state.paused_reason,
        )

    def remove_job(self, name: str) -> None:
        self._jobs.pop(name, None)
        self._succeeded.pop(name, None)
        self._failed.pop(name, None)

    def run_started(self, run: RunContext) -> None:
        pass

    def record_run(self, record: RunRecord) -> None:
        if is_failure(record.outcome):
            kept, limit = self._failed, self._failure_limit
        else:
            kept, limit = self._succeeded, self._success_limit
        queue = kept.get(record.job)
        if queue is None:
            queue = kept[record.job] = deque(maxlen=limit)
        self._counter += 1
        queue.append(
            (
                self._counter,
                record.run_id,
                record.job,
                record.fire_time,
                record.outcome.value,
                record.attempt,
                record.started_at,
                record.finished_at,
                record.error,
                record.traceback,
                record.retry_at,
                record.manual,
                record.missed_count,
                tuple(record.output.items()) if record.output else None,
            )
        )

    def history(
        self, job: str | None = None, *, limit: int = 50, failed_only: bool = False
    ) -> list[RunRecord]:
        sources = [self._failed] if failed_only else [self._failed, self._succeeded]
        numbered = [
            entry
            for source in sources
            for name, queue in source.items()
            if job is None or name == job
            for entry in queue
        ]
        numbered.sort(key=lambda entry: entry[0], reverse=True)
        return [_unpack(entry) for entry in numbered[:limit]]

    def attempt_records(self, job: str, run_id: str, attempt: int) -> list[RunRecord]:
        kept = [
            entry
            for source in (self._failed, self._succeeded)
            for entry in source.get(job, ())
            if entry[1] == run_id and entry[5] == attempt
        ]
        return [_unpack(entry) for entry in sorted(kept, key=itemgetter(0))]

    def recover_interrupted(self) -> list[RunRecord]:
        return []

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _unpack(entry: tuple[Any, ...]) -> RunRecord:
    (_, run_id, job, fire_time, outcome, attempt, started_at, finished_at, error, trace,
     retry_at, manual, missed_count, output) = entry  # fmt: skip
    return RunRecord(
        run_id=run_id,
        job=job,
        fire_time=fire_time,
        outcome=Outcome(outcome),
        attempt=attempt,
        started_at=started_at,
        finished_at=finished_at,
        error=error,
        traceback=trace,
        retry_at=retry_at,
        manual=manual,
        missed_count=missed_count,
        output=dict(output) if output else {},
    )

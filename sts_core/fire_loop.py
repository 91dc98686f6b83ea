"""The fire loop: when each job fires next, and firing it when that time comes.

The next fire of every job sits in a heap of ``(timestamp, sequence, job name)``; the
loop sleeps until the earliest one or until a change wakes it. The sequence number of a
job's current entry is its ``generation``: changing a job (pausing, removing,
rescheduling) gives it a new one and so turns its older entries stale, instead of
searching the heap for them. Adding, pausing and removing are O(log n) or O(1).

Running a fire is the ``Runner``'s job (``runner.py``); which fires of an overdue job run
is ``catch_up.py``'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from heapq import heapify, heappop, heappush

from .catch_up import sort_overdue
from .durations import format_duration
from .events import Notifier
from .host import Host
from .job import BrokenTrigger, Job
from .logfields import fire_due_line, misfire_line, next_fire_line, run_record_fields
from .redaction import redact
from .runner import Runner, error_line

__all__ = ["ClockStep", "FireLoop"]

logger = logging.getLogger("sts")

#: The longest the loop sleeps: a sleep on the monotonic clock cannot see the wall clock
#: jump (suspend, NTP step), so the loop looks at the wall clock at least this often.
MAX_SLEEP = 300.0
#: The most fires of one job that run at once after a stall with ``coalesce = false``;
#: older ones beyond it are recorded missed (counted, never dropped silently).
CATCH_UP_LIMIT = 1000
#: A change of the wall clock against the monotonic clock beyond this, between two wakes of
#: the loop, is a clock step (NTP slews far slower: at most 0.5 ms per second).
CLOCK_STEP = 1.0
#: How many due jobs the loop fires before it lets their runs start.
FIRE_BATCH = 128


@dataclass(frozen=True, slots=True)
class ClockStep:
    """A step of the wall clock the scheduler noticed."""

    detected_at: datetime
    """The wall-clock time just after the step."""
    seconds: float
    """How far it stepped: positive forward (a suspend, an NTP step), negative backward."""


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _log_misfire(job: Job, due: int, missed: int, runs: int) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        policy = job.policy
        arguments, fields = misfire_line(
            job.name, due, missed, policy.misfire_grace, policy.coalesce, runs
        )
        logger.debug(*arguments, extra=fields)


class FireLoop:
    """Keeps every job's next fire and fires the jobs that are due."""

    def __init__(
        self, host: Host, jobs: dict[str, Job], runner: Runner, notifier: Notifier
    ) -> None:
        self._host = host
        self._jobs = jobs  # the registry's, looked up by the name in each heap entry
        self._runner = runner
        self._notifier = notifier
        # Entries hold the job's name, not the job: a tuple of plain values is not tracked
        # by the garbage collector, so ten thousand pending fires do not lengthen its pauses.
        self._heap: list[tuple[float, int, str]] = []
        self._sequence = 0
        self._wake_future: asyncio.Future[None] | None = None
        self._sleeping_until = float("inf")
        #: The wall-clock steps noticed (the latest 100), also logged as warnings.
        self.clock_steps: deque[ClockStep] = deque(maxlen=100)

    # -- the schedule -----------------------------------------------------------------------

    def set_next(self, job: Job, fire: datetime | None) -> None:
        """``job`` fires next at ``fire`` (``None``: never again)."""
        self._sequence += 1
        job.next_fire = fire
        job.generation = self._sequence
        if logger.isEnabledFor(logging.DEBUG):
            arguments, fields = next_fire_line(job.name, fire, job.paused)
            logger.debug(*arguments, extra=fields)
        if fire is None or job.paused:
            return
        timestamp = fire.timestamp()
        heappush(self._heap, (timestamp, self._sequence, job.name))
        if timestamp < self._sleeping_until and self._wake_future is not None:
            _wake(self._wake_future)

    def retire(self, job: Job) -> None:
        """Turn the job's heap entry stale (it is paused or removed)."""
        self._sequence += 1
        job.generation = self._sequence

    def forget(self, job: Job) -> None:
        """``job`` was removed: its heap entry goes stale, its stored state goes."""
        self.retire(job)
        self._host.store.remove_job(job.name)
        self._notifier.job_changed(job, "removed")

    def set_paused(self, job: Job, paused: bool) -> None:
        """Pause ``job`` (its runs under way go on), or resume it from now on."""
        if job.paused == paused:
            return
        job.paused = paused
        job.paused_reason = None
        if paused:
            self.retire(job)
        elif job.trigger is not None:
            now = self._host.clock.now()
            try:
                following = job.fire_after(now)
            except Exception as error:
                self.set_aside(job, error, now)
                return
            self.set_next(job, following)
        self._host.store.save_job(job.state())
        self._notifier.job_changed(job, "paused" if paused else "resumed")

    def restore(self) -> None:
        """At the start: record the runs a previous process left interrupted, and take
        each job's stored pause, last fire and (if its schedule is unchanged) next fire."""
        store = self._host.store
        for record in store.recover_interrupted():
            logger.warning(
                "run interrupted by the previous process: job=%s run=%s",
                record.job,
                record.run_id,
                extra=run_record_fields(record, "run_interrupted"),
            )
        for name, state in store.load_jobs().items():
            job = self._jobs.get(name)
            if job is None:
                store.remove_job(name)
                continue
            # A job STS set aside for its schedule comes back unpaused when the schedule
            # changed (as a live reload of the same fix resumes it); a pause by hand stays.
            set_aside_then_mended = state.paused_reason and state.schedule != job.schedule
            if state.paused and not job.paused and not set_aside_then_mended:
                job.paused = True
                job.paused_reason = state.paused_reason
                self.retire(job)
            job.last_fire = state.last_fire
            if state.schedule == job.schedule:
                if state.next_fire is not None:
                    self.set_next(job, state.next_fire)
                elif state.last_fire is not None and _done_after(job, state.last_fire):
                    # It fired its last fire before the restart (a one-shot job): done,
                    # not due again at its first fire. (One whose `end` moved later since
                    # has fires after its last one: it goes on.)
                    self.set_next(job, None)
        for job in self._jobs.values():
            store.save_job(job.state())

    # -- firing -----------------------------------------------------------------------------

    def _current(self, entry: tuple[float, int, str]) -> Job | None:
        job = self._jobs.get(entry[2])
        return job if job is not None and job.generation == entry[1] else None

    async def run(self) -> None:
        """Fire due jobs, then sleep until the next is due; until cancelled."""
        loop = asyncio.get_running_loop()
        heap = self._heap
        timestamp = self._host.clock.timestamp
        # The wall clock minus the monotonic clock: a change of it is a clock step.
        offset = timestamp() - loop.time()
        while True:
            now = timestamp()
            step = now - loop.time() - offset
            if step >= CLOCK_STEP or step <= -CLOCK_STEP:
                offset += step
                self._clock_stepped(step, now)
            fired = 0
            while heap and heap[0][0] <= now:
                job = self._current(heappop(heap))
                if job is not None:
                    # Whatever one job's trigger or store call raises, the others fire on.
                    # (A try block costs nothing in CPython 3.11 until it raises.)
                    try:
                        self._fire(job, now)
                    except Exception as error:
                        self.set_aside(job, error, job.next_fire)
                    fired += 1
                    if fired == FIRE_BATCH:
                        # Let the runs just started begin (and end) before firing more: a
                        # burst of 100,000 due jobs must not wait for all 100,000 tasks.
                        await asyncio.sleep(0)
                        now, fired = timestamp(), 0
            while heap and self._current(heap[0]) is None:
                heappop(heap)
            future: asyncio.Future[None] = loop.create_future()
            handle = None
            if heap:
                delay = min(heap[0][0] - now, MAX_SLEEP)
                self._sleeping_until = now + delay
                handle = loop.call_later(delay, _wake, future)
            else:
                self._sleeping_until = float("inf")
            self._wake_future = future
            try:
                await future
            finally:
                self._wake_future = None
                if handle is not None:
                    handle.cancel()

    def _fire(self, job: Job, now: float) -> None:
        nominal = job.next_fire
        assert nominal is not None
        if logger.isEnabledFor(logging.DEBUG):
            arguments, fields = fire_due_line(job.name, nominal, now)
            logger.debug(*arguments, extra=fields)
        following = job.fire_after(nominal)
        if following is None or following.timestamp() > now:
            # The common case: one fire due, on time; no lists to build.
            self.set_next(job, following)
            job.last_fire = nominal
            grace = job.policy.misfire_grace
            if grace is None or now - nominal.timestamp() <= grace:
                self._runner.start(job, nominal)
            else:
                _log_misfire(job, 1, 1, 0)
                reason = f"misfire_grace is {grace:g}s"
                self._runner.record_missed(job, 1, nominal, nominal, now, reason)
        else:
            # Several fires due at once: the misfire rules decide which run.
            overdue = sort_overdue(job, nominal, now, CATCH_UP_LIMIT)
            _log_misfire(job, overdue.due, overdue.missed, len(overdue.runs))
            self.set_next(job, overdue.following)
            job.last_fire = overdue.last_due
            if overdue.first_missed is not None and overdue.last_missed is not None:
                self._runner.record_missed(
                    job,
                    overdue.missed,
                    overdue.first_missed,
                    overdue.last_missed,
                    now,
                    overdue.reason,
                )
            for fire in overdue.runs:
                self._runner.start(job, fire)
        self._host.store.save_job(job.state())

    def set_aside(self, job: Job, error: Exception, fire: datetime | None) -> None:
        """A job whose fire raised (its trigger, a store call): pause it with the reason,
        log it once and record it, so that the loop and every other job go on."""
        reason = redact(
            str(error) if isinstance(error, BrokenTrigger) else f"fire failed: {error_line(error)}"
        )
        job.paused = True
        job.paused_reason = reason
        self.retire(job)
        logger.error(
            "job %s set aside (paused until resumed): %s", job.name, reason, exc_info=error
        )
        # Recording may fail the same way (a broken store): it is tried, never fatal.
        keepers: list[Callable[[], None]] = [
            lambda: self._runner.record_set_aside(
                job, fire or self._host.clock.now(), reason, error
            ),
            lambda: self._host.store.save_job(job.state()),
            lambda: self._notifier.job_changed(job, "paused"),
        ]
        for keep in keepers:
            try:
                keep()
            except Exception:
                logger.exception("could not record that job %s was set aside", job.name)

    # -- steps of the wall clock ------------------------------------------------------------

    def _clock_stepped(self, step: float, now: float) -> None:
        """The wall clock stepped by ``step`` seconds against the monotonic clock."""
        detected = datetime.fromtimestamp(now, UTC)
        self.clock_steps.append(ClockStep(detected, step))
        if step > 0:
            # A suspend looks the same (the monotonic clock stops): the fires due meanwhile
            # really were missed, and the misfire rules record them.
            logger.warning(
                "the wall clock jumped %s forward (a suspend or a clock step) at %s: fires "
                "due meanwhile follow the misfire rules",
                format_duration(step),
                detected.isoformat(),
            )
            return
        kept, followed = self._step_back(-step, detected)
        logger.warning(
            "the wall clock went back %s at %s: %d interval job(s) keep their cadence on "
            "elapsed time, %d calendar job(s) follow the wall clock (their fires of the "
            "repeated %s come again)",
            format_duration(-step),
            detected.isoformat(),
            kept,
            followed,
            format_duration(-step),
        )

    def _step_back(self, seconds: float, now: datetime) -> tuple[int, int]:
        """Reschedule every job after the wall clock went back ``seconds``: a job on
        elapsed time (``every 10s``) moves its next fire back as far, so it fires on
        cadence instead of going silent for the step; a calendar job (cron, ``at``) asks
        its trigger again from the new time. The heap is rebuilt once, in O(n)."""
        back = timedelta(seconds=seconds)
        entries: list[tuple[float, int, str]] = []
        kept = followed = 0
        for job in list(self._jobs.values()):
            if job.paused or job.next_fire is None or job.trigger is None:
                continue
            shifted = job.next_fire - back
            start = job.policy.start
            fire: datetime | None = shifted
            try:
                if getattr(job.trigger, "follows_elapsed_time", False) and (
                    start is None or shifted >= start
                ):
                    kept += 1
                else:
                    fire = job.fire_after(now)
                    followed += 1
            except Exception as error:
                self.set_aside(job, error, job.next_fire)
                continue
            self._sequence += 1
            job.next_fire, job.generation = fire, self._sequence
            if fire is not None:
                entries.append((fire.timestamp(), self._sequence, job.name))
            self._host.store.save_job(job.state())
        heapify(entries)
        self._heap[:] = entries  # in place: the loop holds this list
        return kept, followed


def _done_after(job: Job, last_fire: datetime) -> bool:
    """Whether ``job`` has no fire after ``last_fire`` (a trigger that breaks here is left
    to the first fire, which sets the job aside)."""
    if job.trigger is None:
        return False
    try:
        return job.fire_after(last_fire) is None
    except Exception:
        return False

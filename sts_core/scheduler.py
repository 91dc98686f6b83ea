"""The scheduler: a registry of tasks, their jobs, and the loop that fires them.

One asyncio loop; the next fire of every job sits in a heap of ``(timestamp, sequence,
job name)``; the loop sleeps until the earliest one or until a change wakes it. The
sequence number of a job's current entry is its ``generation``: changing a job (pausing,
removing, rescheduling) gives it a new one and so turns its older entries stale, instead
of searching the heap for them. Adding, pausing and removing are O(log n) or O(1).

Running the fires is the ``Runner``'s job (``runner.py``); telling plugins and listeners
what happens is the ``Notifier``'s (``events.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import random
import signal
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Container, Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from heapq import heapify, heappop, heappush
from types import TracebackType
from typing import Any, TypeVar

from .booleans import parse_boolean
from .catch_up import sort_overdue
from .clock import Clock, SystemClock
from .durations import Duration, format_duration, parse_duration
from .events import Listener, Notifier
from .job import BrokenTrigger, Job
from .logfields import (
    fire_due_line,
    misfire_line,
    next_fire_line,
    run_record_fields,
    start_summary,
)
from .loop_watchdog import LoopWatchdog
from .notifications import Notifications
from .plugins import PluginError, Plugins, default_plugins
from .policy import JobPolicy
from .records import RunRecord
from .runner import Runner, error_line
from .secrets import redact
from .store import DurableStore, MemoryStore, StateStore
from .task import FunctionTask, Task
from .timezones import local_zone, resolve_timezone
from .triggers import DateTrigger, IntervalTrigger, Trigger
from .virtual_time import VirtualClock

__all__ = ["ClockStep", "Job", "TaskScheduler"]

logger = logging.getLogger("sts")

F = TypeVar("F", bound=Callable[..., Any])

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


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _env_blocking() -> bool:
    value = os.environ.get("STS_BLOCKING")
    return True if value is None else parse_boolean(value, what="STS_BLOCKING")


def _fresh_name(taken: Container[str], next_suffix: dict[str, int], base: str, form: str) -> str:
    """``form.format(base, N)`` for the first N from ``next_suffix[base]`` (2 at first) that
    is not ``taken``; O(1) amortised, since the counter only moves forward."""
    number = next_suffix.get(base, 2)
    while (name := form.format(base, number)) in taken:
        number += 1
    next_suffix[base] = number + 1
    return name


@dataclass(frozen=True, slots=True)
class ClockStep:
    """A step of the wall clock the scheduler noticed."""

    detected_at: datetime
    """The wall-clock time just after the step."""
    seconds: float
    """How far it stepped: positive forward (a suspend, an NTP step), negative backward."""


class _Done:
    """What ``stop()`` returns once the scheduler has already stopped: awaitable, a no-op."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


class TaskScheduler:
    """Schedules tasks and runs them on an asyncio loop.

    :param name: the scheduler's name (state files, logs, the control socket).
    :param blocking: whether ``run()`` blocks; ``False`` runs the scheduler in a background
        thread. Defaults to ``STS_BLOCKING`` (true unless set to false).
    :param timezone: the default zone of calendar triggers (IANA name or tzinfo); the
        machine's zone by default.
    :param clock: where the time comes from (``sts.testing.VirtualClock`` in tests).
    :param store: where job state and run history go; in memory by default.
    :param plugins: the plugins to use; the process-wide ones by default.
    :param stop_grace: how long ``stop()`` waits for running runs before cancelling them.
    :param max_workers: threads for sync tasks.
    :param seed: seed of the random numbers behind jitter, for reproducible tests.
    :param control_socket: a Unix socket path on which the scheduler answers the control
        protocol (``sts jobs``, ``sts trigger``, the terminal UI); ``True`` for the default
        path in the user runtime dir; ``None`` (the default) for none. The scheduler does
        not serve it itself: the service's built-in plugin does, through the
        ``sts_scheduler_lifespan`` hook (the same as wrapping the scheduler in
        ``async with ControlServer(scheduler, path), scheduler:``).
    :param loop_block_threshold: a run that keeps the event loop busy longer than this
        (an ``async def`` task calling ``time.sleep``) is named in a warning; ``None`` to
        not watch. Not watched under a ``VirtualClock``, whose time would not jump while
        the watchdog pings the loop.
    """

    @classmethod
    def from_config(
        cls, path: str | os.PathLike[str] | None = None, **options: Any
    ) -> TaskScheduler:
        """The scheduler a config file describes, built as ``sts run CONFIG`` builds it:
        its jobs scheduled, its state store opened (SQLite by default), its log sinks
        and secret providers installed (docs/configuration.md).

        :param path: the file; by default found as ``sts`` finds it (``STS_CONFIG``,
            ``./sts.ini``, ``./config.ini``, the user config dir).
        :param options: more ``TaskScheduler`` arguments (``blocking``,
            ``control_socket``...); they win over the file's.
        :raises ConfigError: listing every problem of the file.
        :raises PluginError: when no plugin reads config files (the service's built-in
            plugin does, unless disabled).
        """
        plugins = options.get("plugins") or default_plugins()
        built: TaskScheduler | None = plugins.manager.hook.sts_scheduler_from_config(
            path=path, options=options
        )
        if built is None:
            raise PluginError(
                "no plugin builds a scheduler from a config file: the service's built-in "
                "plugin (sts_core.service.builtin) does, unless STS_DISABLE_PLUGINS names it"
            )
        return built

    def __init__(
        self,
        *,
        name: str = "sts",
        blocking: bool | None = None,
        timezone: str | tzinfo | None = None,
        clock: Clock | None = None,
        store: StateStore | None = None,
        plugins: Plugins | None = None,
        stop_grace: Duration = "30s",
        max_workers: int | None = None,
        seed: int | None = None,
        control_socket: str | os.PathLike[str] | bool | None = None,
        loop_block_threshold: Duration | None = "1s",
    ) -> None:
        self.name = name
        self.blocking = _env_blocking() if blocking is None else blocking
        self.timezone = resolve_timezone(timezone)
        # Why the machine's zone (the default) is UTC or in doubt: warned about at start.
        self._zone_problem = local_zone().problem if timezone is None else None
        #: The config file this scheduler was built from, for the start-up line.
        self.config_file: os.PathLike[str] | str | None = None
        #: The control socket's path while a control server answers for this scheduler
        #: (it sets it), for the start-up line.
        self.control_path: str | None = None
        self.clock: Clock = clock or SystemClock()
        self.store: StateStore = store if store is not None else MemoryStore()
        #: No store was given: ``sts run module:object`` swaps in the SQLite one, so a
        #: scheduler built in Python keeps its history like one from a config file.
        self.has_default_store = store is None
        self.plugins: Plugins = plugins if plugins is not None else default_plugins()
        self.stop_grace = parse_duration(stop_grace, what="stop_grace")
        self.control_socket = control_socket
        # What plugins run around the scheduler (sts_scheduler_lifespan): entered as it
        # starts, exited after its last run.
        self._lifespan: contextlib.AsyncExitStack | None = None
        self._runs_as_main = False  # started by run(), as the program's main loop
        self._notifier = Notifier(self)
        self._runner = Runner(self, self._notifier, random.Random(seed), max_workers)
        #: Failure notifications of the jobs that ask for them (``notify = email:...``).
        self.notifications = Notifications(self)
        self._tasks: dict[str, Task] = {}
        self._jobs: dict[str, Job] = {}
        self._jobs_of_task: dict[str, list[Job]] = {}
        # The next suffix to try per default name (tasks: ``Base-N``; jobs: ``task[N]``), so
        # the ten-thousandth unnamed add costs what the first did. A suffix is never handed
        # out twice, so a new job cannot inherit the stored history of a removed one.
        self._next_task_suffix: dict[str, int] = {}
        self._next_job_suffix: dict[str, int] = {}
        # Entries hold the job's name, not the job: a tuple of plain values is not tracked
        # by the garbage collector, so ten thousand pending fires do not lengthen its pauses.
        self._heap: list[tuple[float, int, str]] = []
        self._sequence = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._thread: threading.Thread | None = None
        self._main: asyncio.Task[None] | None = None
        self._wake_future: asyncio.Future[None] | None = None
        self._sleeping_until = float("inf")
        self._stop_task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._stopped_here: asyncio.Event = asyncio.Event()
        self._started_at: datetime | None = None
        self.loop_block_threshold = (
            None
            if loop_block_threshold is None
            else parse_duration(loop_block_threshold, what="loop_block_threshold")
        )
        self._watchdog: LoopWatchdog | None = None
        #: The wall-clock steps noticed (the latest 100), also logged as warnings.
        self.clock_steps: deque[ClockStep] = deque(maxlen=100)

    # -- the registry -----------------------------------------------------------------------

    @property
    def tasks(self) -> list[Task]:
        """Registered tasks, in the order they were added."""
        return list(self._tasks.values())

    @property
    def jobs(self) -> list[Job]:
        """Scheduled jobs, in the order they were scheduled."""
        return list(self._jobs.values())

    def get_task(self, name: str) -> Task:
        """The task registered as ``name``.

        :raises KeyError: naming the task and the registered ones.
        """
        try:
            return self._tasks[name]
        except KeyError:
            raise KeyError(self._unknown("task", name, self._tasks)) from None

    def get_job(self, name: str) -> Job:
        """The job named ``name``.

        :raises KeyError: naming the job and the scheduled ones.
        """
        try:
            return self._jobs[name]
        except KeyError:
            raise KeyError(self._unknown("job", name, self._jobs)) from None

    @staticmethod
    def _unknown(what: str, name: str, known: Iterable[str]) -> str:
        names = list(known)
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        return f"no {what} named {name!r}; known: {shown or 'none'}"

    def add_task(self, task: Task, *, name: str | None = None) -> Task:
        """Add ``task`` to the registry (adding it again is a no-op) and return it.

        A task's name is its class name unless given; a second task of the same default
        name gets a suffix (``ExampleTask-2``), an explicit name that is taken is an error.
        """
        if not isinstance(task, Task):
            raise TypeError(f"add_task takes an sts.Task, got {task!r}")
        added: Task = self._call(self._add_task, task, name)
        return added

    def _add_task(self, task: Task, name: str | None) -> Task:
        if name is not None:
            task._rename(name)
        if self._tasks.get(task.name) is task:
            return task
        if task.name in self._tasks:
            if task.has_explicit_name:
                raise ValueError(f"a different task named {task.name!r} is already registered")
            task._rename(_fresh_name(self._tasks, self._next_task_suffix, task.name, "{}-{}"))
        self._tasks[task.name] = task
        return task

    def remove_task(self, task: Task | str) -> None:
        """Remove a task (or the task named so) and all its jobs, with their stored state.

        Runs already under way finish.
        """
        self._call(self._remove_task, task)

    def _remove_task(self, task: Task | str) -> None:
        name = task if isinstance(task, str) else task.name
        if name not in self._tasks:
            raise KeyError(self._unknown("task", name, self._tasks))
        for job in self._jobs_of_task.pop(name, []):
            self._retire(job)
            self._jobs.pop(job.name, None)
            self.store.remove_job(job.name)
            self._notifier.job_changed(job, "removed")
        del self._tasks[name]

    def remove_job(self, job: Job | str) -> None:
        """Remove one job (its task stays registered), with its stored state.

        Runs already under way finish.
        """
        self._call(self._remove_job, job)

    def _remove_job(self, target: Job | str) -> None:
        name = target if isinstance(target, str) else target.name
        job = self._jobs.get(name)
        if job is None:
            raise KeyError(self._unknown("job", name, self._jobs))
        self._retire(job)
        del self._jobs[name]
        siblings = self._jobs_of_task.get(job.task.name)
        if siblings is not None and job in siblings:
            siblings.remove(job)
        self.store.remove_job(name)
        self._notifier.job_changed(job, "removed")

    # -- scheduling -------------------------------------------------------------------------

    def schedule(
        self,
        task: Task,
        trigger: Trigger | Callable[[datetime], datetime | None] | str,
        *,
        name: str | None = None,
        job_policy: JobPolicy | None = None,
        **policy: Any,
    ) -> Job:
        """Schedule ``task`` on ``trigger`` and return the job.

        :param trigger: a trigger object, a function ``f(after) -> datetime | None``, or
            text ``"<kind> <spec>"`` (``"every 10s"``, ``"at 2027-01-01T09:00+01:00"``,
            ``"cron 0 3 * * *"``).
        :param name: the job's name; the task's name by default.
        :param policy: job policies overriding the task's (``retries``, ``timeout``,
            ``overlap``, ``misfire_grace``, ``coalesce``, ``jitter``, ``timezone``,
            ``start``, ``end``, ``paused``, ``backoff``, ...) and notification policies
            (``notify``, ``notify_on``, ``notify_interval``, ``notify_options``).
        :param job_policy: instead of ``policy``, a policy built already with
            ``JobPolicy.build(task, ...)`` (a config file's job is checked and built once).
        """
        if job_policy is None:
            job_policy = JobPolicy.build(task, **policy)
        elif policy:
            raise TypeError(f"schedule takes job_policy or policies, not both: {sorted(policy)}")
        job: Job = self._call(self._schedule, task, trigger, name, job_policy)
        return job

    def _schedule(self, task: Task, trigger: Any, name: str | None, policy: JobPolicy) -> Job:
        self._add_task(task, None)
        job_name = self._job_name(task, name)
        zone = policy.timezone or self.timezone
        resolved = self.plugins.make_trigger(trigger, timezone=zone, job_name=job_name)
        job = Job(job_name, task, resolved, policy)
        now = self.clock.now()
        # A one-shot trigger's own first fire (even one already past, so that the misfire
        # rules record it) — unless the job's start bound comes later. Asked before the job
        # is registered: a trigger that breaks here is the caller's error, nothing is added.
        first = getattr(resolved, "first_fire_time", None)
        if first is not None and (policy.start is None or policy.start <= now):
            next_fire = first(now)
        else:
            next_fire = job.fire_after(now)
        self.notifications.follow(job)
        self._jobs[job_name] = job
        siblings = self._jobs_of_task.get(task.name)
        if siblings is None:
            # A list made for one job holds one slot; append would reserve four.
            self._jobs_of_task[task.name] = [job]
        else:
            siblings.append(job)
        self._set_next(job, next_fire)
        self._notifier.job_changed(job, "added")
        return job

    def _job_name(self, task: Task, name: str | None) -> str:
        if name is not None:
            if name in self._jobs:
                raise ValueError(f"a job named {name!r} is already scheduled")
            return name
        if task.name not in self._jobs:
            return task.name
        return _fresh_name(self._jobs, self._next_job_suffix, task.name, "{}[{}]")

    def replace_job(
        self,
        name: str,
        task: Task,
        trigger: Trigger | Callable[[datetime], datetime | None] | str,
        *,
        job_policy: JobPolicy,
        reschedule: bool = True,
    ) -> Job:
        """Give the job ``name`` a new task, trigger and policy in place (a live reload).

        The job keeps its name, its stored history, its last fire and its runs under way,
        which finish with the task and policy they started with. With ``reschedule`` the
        next fire is computed anew from now (a changed schedule); without, it stays.

        :raises KeyError: naming the job and the scheduled ones.
        """
        job: Job = self._call(self._replace_job, name, task, trigger, job_policy, reschedule)
        return job

    def _replace_job(
        self, name: str, task: Task, trigger: Any, policy: JobPolicy, reschedule: bool
    ) -> Job:
        job = self._jobs.get(name)
        if job is None:
            raise KeyError(self._unknown("job", name, self._jobs))
        zone = policy.timezone or self.timezone
        resolved = self.plugins.make_trigger(trigger, timezone=zone, job_name=name)
        old = job.task
        if task is not old:
            siblings = self._jobs_of_task.get(old.name, [])
            if job in siblings:
                siblings.remove(job)
            if not siblings:  # the old task served this job only: the new one takes its name
                self._jobs_of_task.pop(old.name, None)
                if self._tasks.get(old.name) is old:
                    del self._tasks[old.name]
                task._rename(old.name)
            self._add_task(task, None)
            self._jobs_of_task.setdefault(task.name, []).append(job)
        job.task, job.trigger, job.policy = task, resolved, policy
        job._schedule_text = None
        if reschedule:
            now = self.clock.now()
            first = getattr(resolved, "first_fire_time", None)
            try:
                if first is not None and (policy.start is None or policy.start <= now):
                    self._set_next(job, first(now))
                else:
                    self._set_next(job, job.fire_after(now))
            except Exception as error:
                self._set_aside(job, error, now)
        self.store.save_job(job.state())
        self._notifier.job_changed(job, "changed")
        return job

    def schedule_at(self, task: Task, when: datetime | Duration, **policy: Any) -> Job:
        """Run ``task`` once at ``when`` (a datetime), or every ``when`` (a duration).

        ``schedule_at(task, "10s")`` runs the task every ten seconds, as the seed promised.
        """
        trigger: Trigger = (
            DateTrigger(when) if isinstance(when, datetime) else IntervalTrigger(when)
        )
        return self.schedule(task, trigger, **policy)

    def schedule_cron(
        self, task: Task, expression: str, *, timezone: str | tzinfo | None = None, **policy: Any
    ) -> Job:
        """Run ``task`` on a cron expression (needs the plugin ``sts-cron``)."""
        return self.schedule(task, f"cron {expression}", timezone=timezone, **policy)

    def every(self, interval: Duration, **policy: Any) -> Callable[[F], F]:
        """Decorator: run a function, sync or async, every ``interval``."""

        def decorate(function: F) -> F:
            self.schedule(FunctionTask(function), IntervalTrigger(interval), **policy)
            return function

        return decorate

    def cron(
        self, expression: str, *, timezone: str | tzinfo | None = None, **policy: Any
    ) -> Callable[[F], F]:
        """Decorator: run a function, sync or async, on a cron expression."""

        def decorate(function: F) -> F:
            self.schedule_cron(FunctionTask(function), expression, timezone=timezone, **policy)
            return function

        return decorate

    def pause(self, target: Task | Job | str) -> None:
        """Stop firing a job (or every job of a task) until ``resume``. Runs under way go on."""
        self._call(self._set_paused, target, True)

    def resume(self, target: Task | Job | str) -> None:
        """Fire again from now on; fires that fell due while paused are not replayed.

        Resuming a job STS set aside (``job.paused_reason``) clears the reason; if its
        trigger is still broken, the job is set aside again at once.
        """
        self._call(self._set_paused, target, False)

    def _set_paused(self, target: Task | Job | str, paused: bool) -> None:
        for job in self._resolve_jobs(target):
            if job.paused == paused:
                continue
            job.paused = paused
            job.paused_reason = None
            if paused:
                self._retire(job)
            elif job.trigger is not None:
                now = self.clock.now()
                try:
                    following = job.fire_after(now)
                except Exception as error:
                    self._set_aside(job, error, now)
                    continue
                self._set_next(job, following)
            self.store.save_job(job.state())
            self._notifier.job_changed(job, "paused" if paused else "resumed")

    def _resolve_jobs(self, target: Task | Job | str) -> list[Job]:
        if isinstance(target, Job):
            return [target]
        if isinstance(target, Task):
            return list(self._jobs_of_task.get(target.name, []))
        if target in self._jobs:
            return [self._jobs[target]]
        if target in self._tasks:
            return list(self._jobs_of_task.get(target, []))
        raise KeyError(self._unknown("job", target, self._jobs))

    def run_now(self, target: Task | Job | str) -> concurrent.futures.Future[RunRecord]:
        """Start a manual run now, whatever the schedule and the overlap policy say.

        :returns: a future of the run's final record (in async code,
            ``await asyncio.wrap_future(scheduler.run_now(task))``).
        """
        done: concurrent.futures.Future[RunRecord] = concurrent.futures.Future()
        self._call(self._run_now, target, done)
        return done

    def _run_now(
        self, target: Task | Job | str, done: concurrent.futures.Future[RunRecord]
    ) -> None:
        if self._loop is None:
            raise RuntimeError("run_now needs a running scheduler: start it first")
        if isinstance(target, str) and target not in self._jobs and target in self._tasks:
            target = self._tasks[target]
        if isinstance(target, Task):
            self._add_task(target, None)
            jobs = self._jobs_of_task.get(target.name) or [self._manual_job(target)]
        else:
            jobs = self._resolve_jobs(target)
        self._runner.launch(jobs[0], self.clock.now(), manual=True, done=done)

    def _manual_job(self, task: Task) -> Job:
        """A job with no trigger, for a task that only runs when asked to."""
        job = Job(self._job_name(task, None), task, None, JobPolicy.build(task))
        self.notifications.follow(job)
        self._jobs[job.name] = job
        self._jobs_of_task.setdefault(task.name, []).append(job)
        self._notifier.job_changed(job, "added")
        return job

    # -- the fire loop ----------------------------------------------------------------------

    def _set_next(self, job: Job, fire: datetime | None) -> None:
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

    def _retire(self, job: Job) -> None:
        """Turn the job's heap entry stale (it is paused or removed)."""
        self._sequence += 1
        job.generation = self._sequence

    def _current(self, entry: tuple[float, int, str]) -> Job | None:
        job = self._jobs.get(entry[2])
        return job if job is not None and job.generation == entry[1] else None

    async def _fire_loop(self) -> None:
        loop = asyncio.get_running_loop()
        heap = self._heap
        timestamp = self.clock.timestamp
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
                        self._set_aside(job, error, job.next_fire)
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
            self._set_next(job, following)
            job.last_fire = nominal
            grace = job.policy.misfire_grace
            if grace is None or now - nominal.timestamp() <= grace:
                self._runner.start(job, nominal)
            else:
                self._misfire_decided(job, 1, 1, 0)
                reason = f"misfire_grace is {grace:g}s"
                self._runner.record_missed(job, 1, nominal, nominal, now, reason)
        else:
            # Several fires due at once: the misfire rules decide which run.
            overdue = sort_overdue(job, nominal, now, CATCH_UP_LIMIT)
            self._misfire_decided(job, overdue.due, overdue.missed, len(overdue.runs))
            self._set_next(job, overdue.following)
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
        self.store.save_job(job.state())

    def _misfire_decided(self, job: Job, due: int, missed: int, runs: int) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            policy = job.policy
            arguments, fields = misfire_line(
                job.name, due, missed, policy.misfire_grace, policy.coalesce, runs
            )
            logger.debug(*arguments, extra=fields)

    def _set_aside(self, job: Job, error: Exception, fire: datetime | None) -> None:
        """A job whose fire raised (its trigger, a store call): pause it with the reason,
        log it once and record it, so that the loop and every other job go on."""
        reason = redact(
            str(error) if isinstance(error, BrokenTrigger) else f"fire failed: {error_line(error)}"
        )
        job.paused = True
        job.paused_reason = reason
        self._retire(job)
        logger.error(
            "job %s set aside (paused until resumed): %s", job.name, reason, exc_info=error
        )
        # Recording may fail the same way (a broken store): it is tried, never fatal.
        keepers: list[Callable[[], None]] = [
            lambda: self._runner.record_set_aside(job, fire or self.clock.now(), reason, error),
            lambda: self.store.save_job(job.state()),
            lambda: self._notifier.job_changed(job, "paused"),
        ]
        for keep in keepers:
            try:
                keep()
            except Exception:
                logger.exception("could not record that job %s was set aside", job.name)

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
                self._set_aside(job, error, job.next_fire)
                continue
            self._sequence += 1
            job.next_fire, job.generation = fire, self._sequence
            if fire is not None:
                entries.append((fire.timestamp(), self._sequence, job.name))
            self.store.save_job(job.state())
        heapify(entries)
        self._heap[:] = entries  # in place: the fire loop holds this list
        return kept, followed

    # -- listeners --------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event, **facts)`` on the scheduler's loop for this scheduler only:
        ``("run_started", run=RunContext)``, ``("run_finished", record=RunRecord)`` and
        ``("job_changed", job=Job, change=str)``. Unlike hooks, which are per plugin
        manager, a listener sees one scheduler (the control socket uses this).
        """
        self._notifier.listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._notifier.listeners:
            self._notifier.listeners.remove(listener)

    # -- start and stop ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the scheduler fires: started, not stopping, and its fire loop alive."""
        main = self._main
        return main is not None and not main.done() and not self._runner.stopping

    @property
    def started_at(self) -> datetime | None:
        return self._started_at

    @property
    def runs_in_flight(self) -> int:
        return len(self._runner.inflight)

    @property
    def max_workers(self) -> int | None:
        """Threads for sync tasks (``None``: the thread pool's default)."""
        return self._runner.max_workers

    async def start(self) -> None:
        """Start firing on the running event loop, and return."""
        if self._main is not None:
            raise RuntimeError("this scheduler is already running")
        if isinstance(self.store, DurableStore):
            # One writer per state file, before anything is recovered, bound or fired.
            self.store.acquire()
            self._runner.committed = self.store.committed
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._runner.stopping = False
        self._stopped.clear()
        self._stopped_here = asyncio.Event()
        lifespan = contextlib.AsyncExitStack()
        try:
            hook = self.plugins.hook.sts_scheduler_lifespan
            for context in hook(scheduler=self, main=self._runs_as_main):
                await lifespan.enter_async_context(context)
        except BaseException:
            # Not started at all, rather than firing without, say, the socket it was asked for.
            await lifespan.aclose()
            self._loop = self._loop_thread = None
            raise
        self._lifespan = lifespan
        self._notifier.bind(self.plugins)
        self._runner.open_threads()
        self._restore_state()
        self._started_at = self.clock.now()
        # Not under a virtual clock: the watchdog's pings are real I/O, which a virtual
        # loop waits for before it jumps, so they would hold virtual time still.
        if self.loop_block_threshold is not None and not isinstance(self.clock, VirtualClock):
            self._watchdog = LoopWatchdog(
                self._loop, self.loop_block_threshold, lambda: bool(self._runner.inflight)
            )
            self._watchdog.start()
            self._runner.on_busy = self._watchdog.busy
        self._main = self._loop.create_task(self._fire_loop(), name=f"sts fire loop {self.name}")
        self._main.add_done_callback(self._fire_loop_ended)
        self._notifier.scheduler_started()
        self._started.set()
        if self._zone_problem:
            logger.warning("%s", self._zone_problem)
        if logger.isEnabledFor(logging.INFO):
            message, fields = start_summary(self)
            logger.info("%s", message, extra=fields)

    def _fire_loop_ended(self, main: asyncio.Task[None]) -> None:
        # Only a stop cancels the fire loop; if it ends otherwise, say so and stop, rather
        # than claim to run while nothing fires.
        if main.cancelled() or self._runner.stopping:
            return
        logger.critical(
            "the fire loop of scheduler %s ended: %s; stopping",
            self.name,
            main.exception(),
            exc_info=main.exception(),
        )
        self._stop_once(None)

    def _restore_state(self) -> None:
        for record in self.store.recover_interrupted():
            logger.warning(
                "run interrupted by the previous process: job=%s run=%s",
                record.job,
                record.run_id,
                extra=run_record_fields(record, "run_interrupted"),
            )
        stored = self.store.load_jobs()
        for name, state in stored.items():
            job = self._jobs.get(name)
            if job is None:
                self.store.remove_job(name)
                continue
            if state.paused and not job.paused:
                job.paused = True
                self._retire(job)
            job.last_fire = state.last_fire
            if state.schedule == job.schedule and state.next_fire is not None:
                self._set_next(job, state.next_fire)
        for job in self._jobs.values():
            self.store.save_job(job.state())

    def stop(self, grace: Duration | None = None) -> Awaitable[None]:
        """Stop firing, wait up to ``grace`` (``stop_grace``) for runs, then cancel them.

        From the scheduler's own loop, await it (``await scheduler.stop()``); from any
        other thread it blocks until the scheduler has stopped.
        """
        loop = self._loop
        if loop is None or self._main is None:
            return _Done()
        if threading.get_ident() == self._loop_thread:
            return self._stop_once(grace)
        try:
            future = asyncio.run_coroutine_threadsafe(self._stop_async(grace), loop)
        except RuntimeError:  # the loop has closed already
            return _Done()
        future.result()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        return _Done()

    async def _stop_async(self, grace: Duration | None) -> None:
        await self._stop_once(grace)

    def _stop_once(self, grace: Duration | None) -> asyncio.Task[None]:
        if self._stop_task is None:
            assert self._loop is not None
            self._stop_task = self._loop.create_task(self._stop(grace))
        return self._stop_task

    async def _stop(self, grace: Duration | None) -> None:
        seconds = self.stop_grace if grace is None else parse_duration(grace, what="grace")
        self._runner.stopping = True
        self._notifier.scheduler_stopping()
        if self._main is not None:
            self._main.cancel()
            await asyncio.gather(self._main, return_exceptions=True)
        inflight = self._runner.inflight
        if inflight and seconds > 0:
            await asyncio.wait(set(inflight), timeout=seconds)
        if inflight:
            pending = set(inflight)
            for run in pending:
                run.cancel("the scheduler stopped")
            if pending:
                await asyncio.wait(pending)
        await self.notifications.close(seconds)
        if self._lifespan is not None:
            await self._lifespan.aclose()
            self._lifespan = None
        if self._watchdog is not None:
            self._runner.on_busy = None
            self._watchdog.stop()
            self._watchdog = None
        try:
            # On a thread (awaited, so it completes before stop returns): a commit may wait
            # for SQLite's busy timeout while another process holds the write lock.
            await asyncio.to_thread(self.store.flush)
        except Exception as error:  # a full disk must not leave the scheduler half stopped
            logger.error("%s", error)
        self._runner.shutdown_threads()
        self._notifier.unbind()
        self._main = None
        self._stop_task = None
        self._loop = None
        self._loop_thread = None
        self._stopped_here.set()
        self._stopped.set()
        logger.info(
            "scheduler %s stopped",
            self.name,
            extra={"event": "scheduler_stopped", "scheduler": self.name},
        )

    async def __aenter__(self) -> TaskScheduler:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def run(self) -> None:
        """Run the scheduler: block until stopped (SIGINT, SIGTERM or ``stop()``), or with
        ``blocking=False`` start it in a background thread and return at once."""
        self._runs_as_main = True  # so the lifespan hooks set up logging
        if self.blocking:
            self._run_forever(install_signals=threading.current_thread() is threading.main_thread())
            return
        failed: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run_forever,
            kwargs={"install_signals": False, "failed": failed},
            name=f"sts-{self.name}",
        )
        self._thread.daemon = True
        self._thread.start()
        self._started.wait()
        if failed:  # the start itself failed in the thread: say so here, in the caller
            raise failed[0]

    def _run_forever(
        self, install_signals: bool, failed: list[BaseException] | None = None
    ) -> None:
        # Clock.new_event_loop; a clock written before it was part of Clock gets asyncio's.
        factory = getattr(self.clock, "new_event_loop", None)
        try:
            with asyncio.Runner(loop_factory=factory) as runner:
                runner.run(self._serve(install_signals))
        except BaseException as error:
            if failed is None or self._started.is_set():
                raise
            failed.append(error)
            self._started.set()

    async def _serve(self, install_signals: bool) -> None:
        await self.start()
        loop = asyncio.get_running_loop()
        if install_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self._stop_once, None)
        try:
            await self._stopped_here.wait()
        finally:
            if install_signals:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(signum)
            if not self._stopped_here.is_set():
                await self._stop_once(None)

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until the scheduler has stopped (for ``blocking=False``)."""
        return self._stopped.wait(timeout)

    # -- threads ----------------------------------------------------------------------------

    def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function`` on the scheduler's loop: the public API is thread-safe."""
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread:
            return function(*args)
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> None:
            try:
                result.set_result(function(*args))
            except BaseException as error:
                result.set_exception(error)

        try:
            loop.call_soon_threadsafe(call)
        except RuntimeError:  # the loop closed meanwhile
            return function(*args)
        return result.result()

    def __repr__(self) -> str:
        return f"<TaskScheduler {self.name!r} tasks={len(self._tasks)} jobs={len(self._jobs)}>"

"""The scheduler: the API that schedules tasks, and its start and stop.

Its parts, each in a module of its own: the registry of tasks and jobs
(``job_registry.py``), the changes to its jobs (``job_changes.py``), the loop that fires
them (``fire_loop.py``), the runs (``runner.py``), telling plugins and listeners what
happens (``events.py``), and the loop's thread (``loop_thread.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import random
from collections.abc import Awaitable, Callable, Generator, Mapping
from datetime import datetime, tzinfo
from types import TracebackType
from typing import Any, TypeVar

from .booleans import parse_boolean
from .clock import Clock, SystemClock
from .durations import Duration, parse_duration
from .events import Listener, Notifier
from .executors import Executors
from .fire_loop import ClockStep, FireLoop
from .job import Job
from .job_changes import JobChanges
from .job_registry import JobRegistry
from .loop_thread import LoopThread, serve_until_stopped
from .loop_watchdog import LoopWatchdog
from .plugins import PluginError, Plugins, default_plugins
from .policy import JobPolicy
from .records import RunRecord
from .runner import Runner
from .store import DurableStore, MemoryStore, StateStore
from .task import FunctionTask, Task
from .timezones import local_zone, resolve_timezone
from .triggers import DateTrigger, IntervalTrigger, Trigger
from .virtual_time import VirtualClock

__all__ = ["ClockStep", "Job", "TaskScheduler"]

logger = logging.getLogger("sts")

F = TypeVar("F", bound=Callable[..., Any])


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
    :param executor: where attempts run unless a job says otherwise: ``"local"`` (the
        default, in this process) or a registered executor, ``"NAME"`` or
        ``"NAME:TARGET"`` (``"rabbitmq"``, with the plugin ``sts-rabbitmq``).
    :param executor_options: options of each executor's factory, by executor name
        (``{"rabbitmq": {"url": ...}}``; a config file's ``[rabbitmq]`` section).
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
        executor: str | None = None,
        executor_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.name = name
        if blocking is None:
            value = os.environ.get("STS_BLOCKING")
            blocking = True if value is None else parse_boolean(value, what="STS_BLOCKING")
        self.blocking = blocking
        self.timezone = resolve_timezone(timezone)
        # Why the machine's zone (the default) is UTC or in doubt: warned about at start.
        self._zone_problem = local_zone().problem if timezone is None else None
        self.clock: Clock = clock or SystemClock()
        self.store: StateStore = store if store is not None else MemoryStore()
        #: No store was given: ``sts run module:object`` swaps in the SQLite one, so a
        #: scheduler built in Python keeps its history like one from a config file.
        self.has_default_store = store is None
        self.plugins: Plugins = plugins if plugins is not None else default_plugins()
        self.stop_grace = parse_duration(stop_grace, what="stop_grace")
        self.control_socket = control_socket
        #: Threads for sync tasks (``None``: the thread pool's default).
        self.max_workers = max_workers
        #: When the scheduler last started.
        self.started_at: datetime | None = None
        #: The grace of the stop under way (``stop(grace)``, else ``stop_grace``), set
        #: before any hook hears of the stop: what plugins close as their lifespan ends
        #: gets that long.
        self.stopping_grace: float | None = None
        self.loop_block_threshold = (
            None
            if loop_block_threshold is None
            else parse_duration(loop_block_threshold, what="loop_block_threshold")
        )
        self._registry = JobRegistry()
        self._notifier = Notifier(self)
        self._runner = Runner(self, self._notifier, random.Random(seed), max_workers)
        #: Where attempts run: ``local`` unless a job or ``executor`` names another.
        self.executors = Executors(
            self.plugins,
            name,
            executor,
            executor_options,
            self._runner.record,
            self.clock,
            self._runner.durable,
            self._runner.recorded,
        )
        self._runner.executors = self.executors
        self._fires = FireLoop(self, self._registry.jobs, self._runner, self._notifier)
        #: The wall-clock steps noticed (the latest 100), also logged as warnings.
        self.clock_steps = self._fires.clock_steps
        self._changes = JobChanges(self, self._registry, self._fires, self._notifier)
        self._thread = LoopThread()
        # What plugins run around the scheduler (sts_scheduler_lifespan): entered as it
        # starts, exited after its last run.
        self._lifespan: contextlib.AsyncExitStack | None = None
        self._runs_as_main = False  # started by run(), as the program's main loop
        self._main: asyncio.Task[None] | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._stopped_here = asyncio.Event()
        self._watchdog: LoopWatchdog | None = None

    # -- the registry -----------------------------------------------------------------------

    @property
    def tasks(self) -> list[Task]:
        """Registered tasks, in the order they were added."""
        return list(self._registry.tasks.values())

    @property
    def jobs(self) -> list[Job]:
        """Scheduled jobs, in the order they were scheduled."""
        return list(self._registry.jobs.values())

    def get_task(self, name: str) -> Task:
        """The task registered as ``name``.

        :raises KeyError: naming the task and the registered ones.
        """
        return self._registry.task(name)

    def get_job(self, name: str) -> Job:
        """The job named ``name``.

        :raises KeyError: naming the job and the scheduled ones.
        """
        return self._registry.job(name)

    def add_task(self, task: Task, *, name: str | None = None) -> Task:
        """Add ``task`` to the registry (adding it again is a no-op) and return it.

        A task's name is its class name unless given; a second task of the same default
        name gets a suffix (``ExampleTask-2``), an explicit name that is taken is an error.
        """
        if not isinstance(task, Task):
            raise TypeError(f"add_task takes an sts.Task, got {task!r}")
        return self._thread.call(self._registry.add_task, task, name)

    def remove_task(self, task: Task | str) -> None:
        """Remove a task (or the task named so) and all its jobs, with their stored state.

        Runs already under way finish.
        """
        self._thread.call(self._changes.remove_task, task)

    def remove_job(self, job: Job | str) -> None:
        """Remove one job (its task stays registered), with its stored state.

        Runs already under way finish.
        """
        self._thread.call(self._changes.remove_job, job)

    # -- scheduling -------------------------------------------------------------------------

    def schedule(
        self,
        task: Task,
        trigger: Trigger | Callable[[datetime], datetime | None] | str,
        *,
        name: str | None = None,
        job_policy: JobPolicy | None = None,
        replace: bool = False,
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
        :param replace: if a job ``name`` exists, give it this task, trigger and policy in
            place (a live reload): it keeps its stored state, history, last fire and runs
            under way (which finish with the task and policy they started with); its next
            fire is computed anew only if its schedule, zone, start or end changed.
        """
        if job_policy is None:
            job_policy = JobPolicy.build(task, **policy)
        elif policy:
            raise TypeError(f"schedule takes job_policy or policies, not both: {sorted(policy)}")
        return self._thread.call(self._changes.schedule, task, name, trigger, job_policy, replace)

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
        self._thread.call(self._changes.set_paused, target, True)

    def resume(self, target: Task | Job | str) -> None:
        """Fire again from now on; fires that fell due while paused are not replayed.

        Resuming a job STS set aside (``job.paused_reason``) clears the reason; if its
        trigger is still broken, the job is set aside again at once.
        """
        self._thread.call(self._changes.set_paused, target, False)

    def run_now(self, target: Task | Job | str) -> concurrent.futures.Future[RunRecord]:
        """Start a manual run now, whatever the schedule and the overlap policy say.

        :returns: a future of the run's final record (in async code,
            ``await asyncio.wrap_future(scheduler.run_now(task))``).
        """
        done: concurrent.futures.Future[RunRecord] = concurrent.futures.Future()

        def launch() -> None:
            if self._thread.loop is None:
                raise RuntimeError("run_now needs a running scheduler: start it first")
            job = self._changes.job_for_manual_run(target)
            self._runner.launch(job, self.clock.now(), manual=True, done=done)

        self._thread.call(launch)
        return done

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
    def runs_in_flight(self) -> int:
        return len(self._runner.inflight)

    async def start(self) -> None:
        """Start firing on the running event loop, and return."""
        if self._main is not None:
            raise RuntimeError("this scheduler is already running")
        if isinstance(self.store, DurableStore):
            # One writer per state file, before anything is recovered, bound or fired.
            self.store.acquire()
            self._runner.committed = self.store.committed
        self._thread.enter()
        self._runner.stopping = False
        self._stopped_here = asyncio.Event()
        lifespan = contextlib.AsyncExitStack()
        try:
            hook = self.plugins.hook.sts_scheduler_lifespan
            for context in hook(scheduler=self, main=self._runs_as_main):
                await lifespan.enter_async_context(context)
        except BaseException:
            # Not started at all, rather than firing without, say, the socket it was asked for.
            await lifespan.aclose()
            self._thread.leave()
            raise
        self._lifespan = lifespan
        self._notifier.plugins = self.plugins
        self._runner.open_threads()
        self._fires.restore()
        # After the runs a crash left in flight are recorded interrupted: an executor may
        # record their late outcomes as soon as it starts.
        await self.executors.open(self._registry.jobs.values())
        self.started_at = self.clock.now()
        loop = asyncio.get_running_loop()
        # Not under a virtual clock: the watchdog's pings are real I/O, which a virtual
        # loop waits for before it jumps, so they would hold virtual time still.
        if self.loop_block_threshold is not None and not isinstance(self.clock, VirtualClock):
            self._watchdog = LoopWatchdog(
                loop, self.loop_block_threshold, lambda: bool(self._runner.inflight)
            )
            self._watchdog.start()
            self._runner.on_busy = self._watchdog.busy

        def ended(main: asyncio.Task[None]) -> None:
            # Only a stop cancels the fire loop; if it ends otherwise, say so and stop,
            # rather than claim to run while nothing fires.
            if main.cancelled() or self._runner.stopping:
                return
            logger.critical(
                "the fire loop of scheduler %s ended: %s; stopping",
                self.name,
                main.exception(),
                exc_info=main.exception(),
            )
            self._stop_once(None)

        self._main = loop.create_task(self._fires.run(), name=f"sts fire loop {self.name}")
        self._main.add_done_callback(ended)
        if self._zone_problem:
            logger.warning("%s", self._zone_problem)
        # The service's built-in plugin logs the start-up line (config, state, socket).
        self._notifier.observe("sts_scheduler_started", scheduler=self)
        self._thread.started.set()

    def stop(self, grace: Duration | None = None) -> Awaitable[None]:
        """Stop firing, wait up to ``grace`` (``stop_grace``) for runs, then cancel them.

        From the scheduler's own loop, await it (``await scheduler.stop()``); from any
        other thread it blocks until the scheduler has stopped.
        """
        loop = self._thread.loop
        if loop is None or self._main is None:
            return _Done()
        if self._thread.on_loop():
            return self._stop_once(grace)

        async def stop_there() -> None:
            await self._stop_once(grace)

        try:
            future = asyncio.run_coroutine_threadsafe(stop_there(), loop)
        except RuntimeError:  # the loop has closed already
            return _Done()
        future.result()
        self._thread.join_from_elsewhere()
        return _Done()

    def _stop_once(self, grace: Duration | None) -> asyncio.Task[None]:
        if self._stop_task is None:
            assert self._thread.loop is not None
            self._stop_task = self._thread.loop.create_task(self._stop(grace))
        return self._stop_task

    async def _stop(self, grace: Duration | None) -> None:
        seconds = self.stop_grace if grace is None else parse_duration(grace, what="grace")
        self._runner.stopping = True
        self.stopping_grace = seconds
        self._notifier.observe("sts_scheduler_stopping", scheduler=self, grace=seconds)
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
            await asyncio.wait(pending)
        await self.executors.aclose()
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
        self._notifier.plugins = None
        self._main = None
        self._stop_task = None
        self._thread.leave()
        self._stopped_here.set()
        self._thread.stopped.set()
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

        async def serve(install_signals: bool) -> None:
            await self.start()
            stop = lambda: self._stop_once(None)  # noqa: E731
            await serve_until_stopped(self._stopped_here, stop, install_signals)

        self._thread.run(
            serve,
            blocking=self.blocking,
            name=f"sts-{self.name}",
            # Clock.new_event_loop; a clock written before it was part of Clock gets asyncio's.
            loop_factory=getattr(self.clock, "new_event_loop", None),
        )

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until the scheduler has stopped (for ``blocking=False``)."""
        return self._thread.stopped.wait(timeout)

    def __repr__(self) -> str:
        return f"<TaskScheduler {self.name!r} tasks={len(self.tasks)} jobs={len(self.jobs)}>"

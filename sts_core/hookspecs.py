"""The engine's hook specifications: what a scheduler calls plugins for.

The service's hooks (configuration sources, log sinks, secret providers, commands) are
in ``sts_core/service/hookspecs.py``; a plugin manager holds both.

Hooks are synchronous (pluggy has no async hooks): anything asynchronous lives on the
objects that registration hooks hand over (a task's ``run``, a store, a trigger).
Implementations may take fewer arguments than a spec, so specs can grow without breaking
plugins. Every hook here is documented in ``docs/plugins.md``; a test keeps that true.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

from .markers import hookspec

if TYPE_CHECKING:
    from .executors import Executor
    from .notifications import Notifier
    from .records import RunContext, RunRecord
    from .scheduler import Job, TaskScheduler
    from .store import StateStore
    from .task import Task
    from .triggers import Trigger


# The ``register(name, thing)`` callback each registration hook is handed, typed per hook
# (``sts.RegisterTrigger`` and the rest, for a plugin's annotations).


class RegisterTrigger(Protocol):
    """``register(kind, factory)`` of ``sts_register_triggers``: ``factory(spec,
    **options)`` makes a trigger."""

    def __call__(self, kind: str, factory: Callable[..., Trigger], /) -> None: ...


class RegisterTaskType(Protocol):
    """``register(name, task_class)`` of ``sts_register_task_types``: an ``sts.Task``
    subclass."""

    def __call__(self, name: str, task_class: type[Task], /) -> None: ...


class RegisterStateStore(Protocol):
    """``register(name, factory)`` of ``sts_register_state_stores``:
    ``factory(scheduler_name, **options)`` makes a store."""

    def __call__(self, name: str, factory: Callable[..., StateStore], /) -> None: ...


class RegisterNotifier(Protocol):
    """``register(scheme, factory)`` of ``sts_register_notifiers``: ``factory(target,
    **options)`` makes a notifier."""

    def __call__(self, scheme: str, factory: Callable[..., Notifier], /) -> None: ...


class RegisterExecutor(Protocol):
    """``register(name, factory)`` of ``sts_register_executors``:
    ``factory(scheduler_name, **options)`` makes an executor."""

    def __call__(self, name: str, factory: Callable[..., Executor], /) -> None: ...


# -------------------------------------------------------------------------------------------
# Registration: what a plugin adds. Each hook receives a ``register`` callback; registering
# a name that another plugin already registered is an error that names both plugins.
# -------------------------------------------------------------------------------------------


@hookspec
def sts_register_triggers(register: RegisterTrigger) -> None:
    """Register trigger kinds, used by ``schedule(task, "<kind> <spec>")`` and config files.

    :param register: ``register(kind, factory)``. ``factory(spec, **options)`` takes the
        text after the kind and keyword options, and returns a trigger: an object with
        ``next_fire_time(after: datetime) -> datetime | None``. Options always include
        ``timezone`` (a ``tzinfo``) and ``job_name`` (``str``); factories accept and ignore
        what they do not need (``**options``).

    Example::

        @sts.hookimpl
        def sts_register_triggers(register):
            register("cron", CronTrigger.from_spec)
    """


@hookspec
def sts_register_task_types(register: RegisterTaskType) -> None:
    """Register task types, used by ``type = <name>`` in config files.

    :param register: ``register(name, task_class)``. The class is an ``sts.Task`` subclass,
        built with the job's options as keyword arguments.

    Example::

        @sts.hookimpl
        def sts_register_task_types(register):
            register("shell", ShellTask)
    """


@hookspec
def sts_register_state_stores(register: RegisterStateStore) -> None:
    """Register state stores, chosen with ``state = <name>`` in ``[scheduler]``.

    :param register: ``register(name, factory)``. ``factory(scheduler_name, **options)``
        returns an ``sts.StateStore``.
    """


@hookspec
def sts_register_notifiers(register: RegisterNotifier) -> None:
    """Register notifier schemes, used by a job's ``notify = <scheme>:<target>``.

    :param register: ``register(scheme, factory)``. ``factory(target, **options)`` takes
        the text after ``<scheme>:`` and the scheme's options (from the config section
        named after the scheme, ``[email]``, over which a job's ``email.<option>`` keys
        win, converted to the types the factory annotates; from ``notify_options`` in
        Python) and returns an ``sts.Notifier``: an object with
        ``async def notify(event: sts.NotificationEvent) -> None`` and, optionally,
        ``async def aclose() -> None``, called when the scheduler stops. The factory is
        called when a job is scheduled (a bad target is an error then): open
        connections in ``notify``, not in the factory.

    Example::

        @sts.hookimpl
        def sts_register_notifiers(register):
            register("email", EmailNotifier)
    """


@hookspec
def sts_register_executors(register: RegisterExecutor) -> None:
    """Register executors: where the attempts of a job's runs are carried out, chosen with
    ``executor = NAME`` or ``NAME:TARGET`` (per job, or in ``[scheduler]`` for all jobs;
    ``TaskScheduler(executor=...)`` in Python). The built-in ``local`` runs them in the
    scheduler's process.

    :param register: ``register(name, factory)``. ``factory(scheduler_name, **options)``
        takes the options of the section named after the executor (``[rabbitmq]``) and
        returns an ``sts.Executor``: ``async start()``, ``async execute(job, fire) ->
        sts.AttemptReport`` (returns once the attempt's outcome is known; ``fire`` has
        ``job``, ``fire_time``, ``idempotency_key``, ``attempt``, ``target``) and
        ``async aclose()``. The scheduler keeps the overlap policy, decides retries from
        the report, and records it like a local run.

    Example::

        @sts.hookimpl
        def sts_register_executors(register):
            register("rabbitmq", RabbitExecutor)
    """


# -------------------------------------------------------------------------------------------
# Service: what a plugin runs around a scheduler.
# -------------------------------------------------------------------------------------------


@hookspec
def sts_scheduler_lifespan(
    scheduler: TaskScheduler, main: bool
) -> AbstractAsyncContextManager[object] | None:
    """Called as a scheduler starts, before its first fire: return an async context manager
    to enter now and exit after the scheduler's last run has finished, or ``None``.

    The service's built-in plugin answers ``TaskScheduler(control_socket=...)`` this way,
    and sets up logging for ``run()``. Unlike the observers below, an error here (calling
    the hook or entering the context) aborts the start: the scheduler fires nothing.

    :param scheduler: the scheduler.
    :param main: whether the scheduler runs as the program's main loop (``run()``), which
        may set up process-wide things such as logging.
    """


@hookspec(firstresult=True)
def sts_scheduler_from_config(
    path: str | os.PathLike[str] | None, options: dict[str, Any]
) -> TaskScheduler | None:
    """Called by ``TaskScheduler.from_config(path, **options)``: build the scheduler a
    config file describes. Stops at first non-None result.

    The service's built-in plugin answers it with its config loader, as ``sts run CONFIG``
    builds a scheduler; the engine itself reads no file.

    :param path: the config file; ``None`` to find it as ``sts`` does.
    :param options: more ``TaskScheduler`` arguments, winning over the file's.
    """


# -------------------------------------------------------------------------------------------
# Lifecycle: what a plugin observes. Called on the scheduler's event loop; keep them quick
# and never raise (an exception is logged and otherwise ignored).
# -------------------------------------------------------------------------------------------


@hookspec
def sts_scheduler_started(scheduler: TaskScheduler) -> None:
    """Called once the scheduler has started firing.

    :param scheduler: the scheduler.
    """


@hookspec
def sts_scheduler_stopping(scheduler: TaskScheduler, grace: float) -> None:
    """Called when the scheduler stops firing, before it waits for running runs.

    :param scheduler: the scheduler.
    :param grace: the stop's grace, in seconds: how long runs (and what a plugin closes
        as its ``sts_scheduler_lifespan`` ends) may take before they are cancelled.
    """


@hookspec
def sts_job_scheduled(scheduler: TaskScheduler, job: Job) -> None:
    """Called once per job as it is scheduled (added, replaced in place, or made for
    ``run_now`` of a task that has no job), on the scheduler's loop, before anything
    changes: check what the plugin owns of it and get ready for it. Raise ``ValueError``
    or ``sts.PluginError`` to refuse it: ``schedule()`` raises that, and nothing is added
    or changed. (For a replace, ``job`` holds the new task, trigger and policy; the
    registered job takes them once every plugin accepted.)
    (The service's notifications build the job's ``notify`` channels here, so that a bad
    channel is an error of ``schedule()``, not of the first failure.)

    :param scheduler: the scheduler.
    :param job: the job, with its task, trigger and policy.
    """


@hookspec
def sts_job_changed(scheduler: TaskScheduler, job: Job, change: str) -> None:
    """Called when a job is added, removed, paused or resumed, or replaced in place.

    :param scheduler: the scheduler.
    :param job: the job.
    :param change: ``"added"``, ``"removed"``, ``"paused"``, ``"resumed"`` or
        ``"changed"`` (scheduled again with ``replace=True``: a new task, trigger or
        policy under the same name; its state and history are kept).
    """


@hookspec
def sts_run_started(run: RunContext, scheduler: TaskScheduler) -> None:
    """Called when an attempt of a run starts.

    :param run: the run's facts: ``run_id``, ``job``, ``fire_time``, ``attempt``,
        ``idempotency_key``.
    :param scheduler: the scheduler the run belongs to (two in one process are told
        apart by it).
    """


@hookspec
def sts_run_finished(record: RunRecord, scheduler: TaskScheduler) -> None:
    """Called when an attempt ends, and for fires that did not run (missed, skipped).

    :param record: the outcome, error, timings and, if another attempt follows, ``retry_at``.
    :param scheduler: the scheduler the run belongs to.
    """

"""The service's built-in plugin: the SQLite store, the log sinks and the secret
providers a config file chooses by name, and what runs around a scheduler (the control
socket of ``TaskScheduler(control_socket=...)``, logging for ``run()``, the notifications
of jobs that ask for them, the start-up line). Registered right
after the engine's (``sts_core.builtin``), exactly like an installed plugin.

What it registers is imported when a registry is first collected, not when the plugin
loads: ``sts --help`` loads every plugin, and must not pay for SQLite.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from ..hookspecs import RegisterStateStore
from ..markers import hookimpl
from .hookspecs import RegisterLogSink, RegisterSecretProvider

if TYPE_CHECKING:
    from ..job import Job
    from ..scheduler import TaskScheduler


@hookimpl
def sts_register_state_stores(register: RegisterStateStore) -> None:
    from .sqlite_store import open_sqlite_store

    register("sqlite", open_sqlite_store)


@hookimpl
def sts_register_log_sinks(register: RegisterLogSink) -> None:
    from .logsinks import console_sink, file_sink, json_sink

    register("console", console_sink)
    register("file", file_sink)
    register("json", json_sink)


@hookimpl
def sts_register_secret_providers(register: RegisterSecretProvider) -> None:
    from .secrets import DirectorySecrets, EnvironmentSecrets

    register("env", EnvironmentSecrets)
    register("files", DirectorySecrets)


@hookimpl
def sts_scheduler_from_config(
    path: str | os.PathLike[str] | None, options: dict[str, Any]
) -> TaskScheduler:
    from .config import load_config
    from .reload import reloadable_scheduler

    plugins = options.get("plugins")
    return reloadable_scheduler(load_config(path, plugins=plugins), **options)


@hookimpl
def sts_scheduler_lifespan(
    scheduler: TaskScheduler, main: bool
) -> AbstractAsyncContextManager[object] | None:
    if main:
        from .logsinks import configure_logging

        configure_logging()
    from .notifications import notifications_lifespan
    from .reload.registry import reloader_of

    contexts: list[AbstractAsyncContextManager[object]] = []
    if scheduler.control_socket:
        from .control import control_server

        contexts.append(control_server(scheduler, scheduler.control_socket))
    reloader = reloader_of(scheduler)
    if reloader is not None:  # after the socket, which sends the `reloaded` events
        from .reload.lifespan import reload_lifespan

        contexts.append(reload_lifespan(reloader, main))
    # Last in, so first out: deliveries end while the socket can still tell of them.
    contexts.append(notifications_lifespan(scheduler))
    return contexts[0] if len(contexts) == 1 else _together(contexts)


@contextlib.asynccontextmanager
async def _together(contexts: list[AbstractAsyncContextManager[object]]) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for context in contexts:
            await stack.enter_async_context(context)
        yield


@hookimpl
def sts_scheduler_stopping(scheduler: TaskScheduler) -> None:
    # Clients of the control socket hear of the stop when it starts, not only when the
    # socket closes after the last run (a UI would say "stopped" seconds late).
    from .control.server import announce_stopping

    announce_stopping(scheduler)


@hookimpl
def sts_job_scheduled(scheduler: TaskScheduler, job: Job) -> None:
    if job.policy.notify.channels:  # the rest pay no import here
        from .notifications import notifications_of

        notifications_of(scheduler).follow(job)


@hookimpl(tryfirst=True)  # the start-up line before what other plugins log as it starts
def sts_scheduler_started(scheduler: TaskScheduler) -> None:
    from .process_groups import reap_orphaned_process_groups
    from .start_line import log_start_line

    log_start_line(scheduler)
    # Before the first fire: commands a killed scheduler left running (and its guard did
    # not stop) are killed, so that no job runs beside its own leftover.
    reap_orphaned_process_groups()

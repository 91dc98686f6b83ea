"""The built-in plugin: registered first, exactly like an installed one.

What it registers is imported when a registry is first collected, not when the plugin
loads: ``sts --help`` loads every plugin, and must not pay for asyncio or SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .hookspecs import Register
from .plugins import hookimpl
from .store import DEFAULT_FAILURE_HISTORY, DEFAULT_SUCCESS_HISTORY, MemoryStore

if TYPE_CHECKING:
    from .scheduler import TaskScheduler


@hookimpl
def sts_register_triggers(register: Register) -> None:
    from .triggers import at_trigger, every_trigger

    register("every", every_trigger)
    register("at", at_trigger)


@hookimpl
def sts_register_task_types(register: Register) -> None:
    from .task import PythonTask

    register("python", PythonTask)


@hookimpl
def sts_register_state_stores(register: Register) -> None:
    from .sqlite_store import open_sqlite_store

    register("memory", _memory_store)
    register("sqlite", open_sqlite_store)


def _memory_store(
    scheduler_name: str,
    *,
    success_history: int = DEFAULT_SUCCESS_HISTORY,
    failure_history: int = DEFAULT_FAILURE_HISTORY,
) -> MemoryStore:
    # Annotated (and MemoryStore imported at the top, so the annotations resolve), so that
    # a config file's [state] options are converted to whole numbers.
    return MemoryStore(success_history=success_history, failure_history=failure_history)


@hookimpl
def sts_register_log_sinks(register: Register) -> None:
    from .logsinks import console_sink, file_sink, json_sink

    register("console", console_sink)
    register("file", file_sink)
    register("json", json_sink)


@hookimpl
def sts_register_secret_providers(register: Register) -> None:
    from .secrets import DirectorySecrets, EnvironmentSecrets

    register("env", EnvironmentSecrets)
    register("files", DirectorySecrets)


@hookimpl
def sts_scheduler_started(scheduler: TaskScheduler) -> None:
    # Before the first fire: commands a killed scheduler left running (and its guard did
    # not stop) are killed, so that no job runs beside its own leftover.
    from .process_groups import reap_orphaned_process_groups

    reap_orphaned_process_groups()

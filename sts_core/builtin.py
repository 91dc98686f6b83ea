"""The built-in plugin: registered first, exactly like an installed one."""

from __future__ import annotations

from .hookspecs import Register
from .logsinks import console_sink, file_sink, json_sink
from .plugins import hookimpl
from .secrets import DirectorySecrets, EnvironmentSecrets
from .sqlite_store import open_sqlite_store
from .store import DEFAULT_FAILURE_HISTORY, DEFAULT_SUCCESS_HISTORY, MemoryStore
from .task import PythonTask
from .triggers import at_trigger, every_trigger


@hookimpl
def sts_register_triggers(register: Register) -> None:
    register("every", every_trigger)
    register("at", at_trigger)


@hookimpl
def sts_register_task_types(register: Register) -> None:
    register("python", PythonTask)


@hookimpl
def sts_register_state_stores(register: Register) -> None:
    register("memory", _memory_store)
    register("sqlite", open_sqlite_store)


def _memory_store(
    scheduler_name: str,
    *,
    success_history: int = DEFAULT_SUCCESS_HISTORY,
    failure_history: int = DEFAULT_FAILURE_HISTORY,
) -> MemoryStore:
    # Annotated, so that a config file's [state] options are converted to whole numbers.
    return MemoryStore(success_history=success_history, failure_history=failure_history)


@hookimpl
def sts_register_log_sinks(register: Register) -> None:
    register("console", console_sink)
    register("file", file_sink)
    register("json", json_sink)


@hookimpl
def sts_register_secret_providers(register: Register) -> None:
    register("env", EnvironmentSecrets)
    register("files", DirectorySecrets)

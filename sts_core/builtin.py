"""The built-in plugin: registered first, exactly like an installed one."""

from __future__ import annotations

from .hookspecs import Register
from .logsinks import console_sink, file_sink, json_sink
from .plugins import hookimpl
from .secrets import DirectorySecrets, EnvironmentSecrets
from .store import MemoryStore
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
    register("memory", lambda scheduler_name, **options: MemoryStore(**options))
    register("sqlite", _open_sqlite_store)


def _open_sqlite_store(scheduler_name: str, **options: object) -> object:
    # Imported on use: sqlite3 is not needed to import sts or to answer `sts --help`.
    from .sqlite_store import open_sqlite_store

    return open_sqlite_store(scheduler_name, **options)  # type: ignore[arg-type]


@hookimpl
def sts_register_log_sinks(register: Register) -> None:
    register("console", console_sink)
    register("file", file_sink)
    register("json", json_sink)


@hookimpl
def sts_register_secret_providers(register: Register) -> None:
    register("env", EnvironmentSecrets)
    register("files", DirectorySecrets)

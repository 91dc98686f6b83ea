"""The engine's built-in plugin: registered first, exactly like an installed one.

What it registers is imported when a registry is first collected, not when the plugin
loads: ``sts --help`` loads every plugin, and must not pay for asyncio.
The service's own registrations (the SQLite store, log sinks, secret providers) are in
``sts_core.service.builtin``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .hookspecs import RegisterExecutor, RegisterStateStore, RegisterTaskType, RegisterTrigger
from .markers import hookimpl
from .store import DEFAULT_FAILURE_HISTORY, DEFAULT_SUCCESS_HISTORY, MemoryStore

if TYPE_CHECKING:
    from .executors import Executor


@hookimpl
def sts_register_triggers(register: RegisterTrigger) -> None:
    from .triggers import at_trigger, every_trigger

    register("every", every_trigger)
    register("at", at_trigger)


@hookimpl
def sts_register_task_types(register: RegisterTaskType) -> None:
    from .task import PythonTask

    register("python", PythonTask)


@hookimpl
def sts_register_executors(register: RegisterExecutor) -> None:
    register("local", _local_executor)


def _local_executor(scheduler_name: str) -> Executor:
    from .executors import LocalExecutor

    return LocalExecutor()


@hookimpl
def sts_register_state_stores(register: RegisterStateStore) -> None:
    register("memory", _memory_store)


def _memory_store(
    scheduler_name: str,
    *,
    success_history: int = DEFAULT_SUCCESS_HISTORY,
    failure_history: int = DEFAULT_FAILURE_HISTORY,
) -> MemoryStore:
    # Annotated (and MemoryStore imported at the top, so the annotations resolve), so that
    # a config file's [state] options are converted to whole numbers.
    return MemoryStore(success_history=success_history, failure_history=failure_history)

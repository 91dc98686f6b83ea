"""The built-in plugin: registered first, exactly like an installed one."""

from __future__ import annotations

from .hookspecs import Register
from .plugins import hookimpl
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

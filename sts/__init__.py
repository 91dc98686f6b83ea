"""STS, the Simple Task Scheduler: the public API.

This package only re-exports; the engine lives in ``sts_core`` and may move inside.
Plugins import ``sts``, never ``sts_core``. Names are imported on first use, so that
``import sts`` stays fast (asyncio alone costs tens of milliseconds).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

from sts_core import __version__

#: The marker for hook implementations: ``@sts.hookimpl``.
hookimpl = pluggy.HookimplMarker("sts")

if TYPE_CHECKING:
    from sts_core.booleans import parse_boolean
    from sts_core.clock import Clock, SystemClock
    from sts_core.durations import parse_duration
    from sts_core.job import Job
    from sts_core.plugins import PluginError, Plugins, create_plugins
    from sts_core.policy import JobPolicy, PermanentError, RetryPolicy
    from sts_core.records import Outcome, RunContext, RunRecord, current_run
    from sts_core.scheduler import TaskScheduler
    from sts_core.secrets import SecretError, redact, resolve_secrets
    from sts_core.service.control import ControlClient, ControlError, default_control_socket
    from sts_core.store import JobState, MemoryStore, StateStore
    from sts_core.task import FunctionTask, Task
    from sts_core.triggers import DateTrigger, FunctionTrigger, IntervalTrigger, Trigger

_LAZY = {
    "ControlClient": "sts_core.service.control",
    "ControlError": "sts_core.service.control",
    "default_control_socket": "sts_core.service.control",
    "Clock": "sts_core.clock",
    "SystemClock": "sts_core.clock",
    "parse_boolean": "sts_core.booleans",
    "parse_duration": "sts_core.durations",
    "PluginError": "sts_core.plugins",
    "Plugins": "sts_core.plugins",
    "create_plugins": "sts_core.plugins",
    "JobPolicy": "sts_core.policy",
    "PermanentError": "sts_core.policy",
    "RetryPolicy": "sts_core.policy",
    "Outcome": "sts_core.records",
    "RunContext": "sts_core.records",
    "RunRecord": "sts_core.records",
    "current_run": "sts_core.records",
    "Job": "sts_core.job",
    "TaskScheduler": "sts_core.scheduler",
    "SecretError": "sts_core.secrets",
    "redact": "sts_core.secrets",
    "resolve_secrets": "sts_core.secrets",
    "JobState": "sts_core.store",
    "MemoryStore": "sts_core.store",
    "StateStore": "sts_core.store",
    "FunctionTask": "sts_core.task",
    "Task": "sts_core.task",
    "DateTrigger": "sts_core.triggers",
    "FunctionTrigger": "sts_core.triggers",
    "IntervalTrigger": "sts_core.triggers",
    "Trigger": "sts_core.triggers",
}

__all__ = [
    "Clock",
    "ControlClient",
    "ControlError",
    "DateTrigger",
    "FunctionTask",
    "FunctionTrigger",
    "IntervalTrigger",
    "Job",
    "JobPolicy",
    "JobState",
    "MemoryStore",
    "Outcome",
    "PermanentError",
    "PluginError",
    "Plugins",
    "RetryPolicy",
    "RunContext",
    "RunRecord",
    "SecretError",
    "StateStore",
    "SystemClock",
    "Task",
    "TaskScheduler",
    "Trigger",
    "__version__",
    "create_plugins",
    "current_run",
    "default_control_socket",
    "hookimpl",
    "parse_boolean",
    "parse_duration",
    "redact",
    "resolve_secrets",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sts' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

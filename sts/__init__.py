"""STS, the Simple Task Scheduler: the public API.

This package only re-exports; the engine lives in ``sts_core`` and may move inside.
Plugins import ``sts``, never ``sts_core``. Names are imported on first use, so that
``import sts`` stays fast (asyncio alone costs tens of milliseconds).

To add a public name: one line in ``_API`` and its ``import ... as ...`` line under
``TYPE_CHECKING`` (for type checkers, which cannot read ``_API``); a test checks that
the two agree.
"""

import typing

from sts_core import __version__ as __version__
from sts_core.markers import hookimpl as hookimpl
from sts_core.service.exports import lazy_exports as _lazy_exports

if typing.TYPE_CHECKING:
    from sts_core.booleans import parse_boolean as parse_boolean
    from sts_core.clock import Clock as Clock
    from sts_core.clock import SystemClock as SystemClock
    from sts_core.durations import parse_duration as parse_duration
    from sts_core.executors import AttemptReport as AttemptReport
    from sts_core.executors import Executor as Executor
    from sts_core.executors import Fire as Fire
    from sts_core.executors import run_in_process as run_in_process
    from sts_core.fire_loop import ClockStep as ClockStep
    from sts_core.hookspecs import RegisterExecutor as RegisterExecutor
    from sts_core.hookspecs import RegisterNotifier as RegisterNotifier
    from sts_core.hookspecs import RegisterStateStore as RegisterStateStore
    from sts_core.hookspecs import RegisterTaskType as RegisterTaskType
    from sts_core.hookspecs import RegisterTrigger as RegisterTrigger
    from sts_core.job import BrokenTrigger as BrokenTrigger
    from sts_core.job import Job as Job
    from sts_core.notifications import NotificationEvent as NotificationEvent
    from sts_core.notifications import Notifier as Notifier
    from sts_core.numbers import parse_whole_number as parse_whole_number
    from sts_core.plugins import PluginError as PluginError
    from sts_core.plugins import Plugins as Plugins
    from sts_core.plugins import create_plugins as create_plugins
    from sts_core.policy import JobPolicy as JobPolicy
    from sts_core.policy import PermanentError as PermanentError
    from sts_core.policy import RetryAfter as RetryAfter
    from sts_core.policy import RetryPolicy as RetryPolicy
    from sts_core.policy import SetupError as SetupError
    from sts_core.records import Outcome as Outcome
    from sts_core.records import RunContext as RunContext
    from sts_core.records import RunRecord as RunRecord
    from sts_core.records import current_run as current_run
    from sts_core.redaction import SecretError as SecretError
    from sts_core.redaction import redact as redact
    from sts_core.redaction import redaction_margin as redaction_margin
    from sts_core.scheduler import TaskScheduler as TaskScheduler
    from sts_core.service.config import ConfigError as ConfigError
    from sts_core.service.control import ControlClient as ControlClient
    from sts_core.service.control import ControlError as ControlError
    from sts_core.service.control import ControlServer as ControlServer
    from sts_core.service.control import control_request as control_request
    from sts_core.service.control import default_control_socket as default_control_socket
    from sts_core.service.exports import lazy_exports as lazy_exports
    from sts_core.service.hookspecs import RegisterCommand as RegisterCommand
    from sts_core.service.hookspecs import RegisterConfigSource as RegisterConfigSource
    from sts_core.service.hookspecs import RegisterLogSink as RegisterLogSink
    from sts_core.service.hookspecs import RegisterSecretProvider as RegisterSecretProvider
    from sts_core.service.placeholders import PLACEHOLDER as PLACEHOLDER
    from sts_core.service.placeholders import PLACEHOLDER_NAMES as PLACEHOLDER_NAMES
    from sts_core.service.placeholders import fill_placeholders as fill_placeholders
    from sts_core.service.placeholders import run_facts as run_facts
    from sts_core.service.printable import printable as printable
    from sts_core.service.process_groups import process_group_members as process_group_members
    from sts_core.service.process_groups import process_start_time as process_start_time
    from sts_core.service.process_groups import (
        reap_orphaned_process_groups as reap_orphaned_process_groups,
    )
    from sts_core.service.process_groups import track_process_group as track_process_group
    from sts_core.service.process_groups import untrack_process_group as untrack_process_group
    from sts_core.service.reload import Reloader as Reloader
    from sts_core.service.reload import ReloadResult as ReloadResult
    from sts_core.service.reload import reloader_of as reloader_of
    from sts_core.service.secrets import resolve_secrets as resolve_secrets
    from sts_core.service.sizes import parse_size as parse_size
    from sts_core.store import AttemptLookup as AttemptLookup
    from sts_core.store import ClaimingStore as ClaimingStore
    from sts_core.store import DurableStore as DurableStore
    from sts_core.store import JobState as JobState
    from sts_core.store import MemoryStore as MemoryStore
    from sts_core.store import StateStore as StateStore
    from sts_core.store import WriteRetries as WriteRetries
    from sts_core.task import FunctionTask as FunctionTask
    from sts_core.task import Task as Task
    from sts_core.triggers import DateTrigger as DateTrigger
    from sts_core.triggers import FunctionTrigger as FunctionTrigger
    from sts_core.triggers import IntervalTrigger as IntervalTrigger
    from sts_core.triggers import Trigger as Trigger

#: The public API: every name and the module it comes from. The one list.
_API = {
    "parse_boolean": "sts_core.booleans",
    "Clock": "sts_core.clock",
    "SystemClock": "sts_core.clock",
    "parse_duration": "sts_core.durations",
    "AttemptReport": "sts_core.executors",
    "Executor": "sts_core.executors",
    "Fire": "sts_core.executors",
    "run_in_process": "sts_core.executors",
    "lazy_exports": "sts_core.service.exports",
    "BrokenTrigger": "sts_core.job",
    "Job": "sts_core.job",
    "NotificationEvent": "sts_core.notifications",
    "Notifier": "sts_core.notifications",
    "PluginError": "sts_core.plugins",
    "Plugins": "sts_core.plugins",
    "create_plugins": "sts_core.plugins",
    "JobPolicy": "sts_core.policy",
    "PermanentError": "sts_core.policy",
    "RetryAfter": "sts_core.policy",
    "RetryPolicy": "sts_core.policy",
    "printable": "sts_core.service.printable",
    "PLACEHOLDER": "sts_core.service.placeholders",
    "PLACEHOLDER_NAMES": "sts_core.service.placeholders",
    "fill_placeholders": "sts_core.service.placeholders",
    "run_facts": "sts_core.service.placeholders",
    "Outcome": "sts_core.records",
    "RunContext": "sts_core.records",
    "RunRecord": "sts_core.records",
    "current_run": "sts_core.records",
    "ClockStep": "sts_core.fire_loop",
    "RegisterExecutor": "sts_core.hookspecs",
    "RegisterNotifier": "sts_core.hookspecs",
    "RegisterStateStore": "sts_core.hookspecs",
    "RegisterTaskType": "sts_core.hookspecs",
    "RegisterTrigger": "sts_core.hookspecs",
    "RegisterCommand": "sts_core.service.hookspecs",
    "RegisterConfigSource": "sts_core.service.hookspecs",
    "RegisterLogSink": "sts_core.service.hookspecs",
    "RegisterSecretProvider": "sts_core.service.hookspecs",
    "ConfigError": "sts_core.service.config",
    "TaskScheduler": "sts_core.scheduler",
    "SecretError": "sts_core.redaction",
    "SetupError": "sts_core.policy",
    "redact": "sts_core.redaction",
    "redaction_margin": "sts_core.redaction",
    "resolve_secrets": "sts_core.service.secrets",
    "DurableStore": "sts_core.store",
    "ClaimingStore": "sts_core.store",
    "AttemptLookup": "sts_core.store",
    "ControlClient": "sts_core.service.control",
    "ControlError": "sts_core.service.control",
    "ControlServer": "sts_core.service.control",
    "control_request": "sts_core.service.control",
    "default_control_socket": "sts_core.service.control",
    "process_group_members": "sts_core.service.process_groups",
    "process_start_time": "sts_core.service.process_groups",
    "reap_orphaned_process_groups": "sts_core.service.process_groups",
    "track_process_group": "sts_core.service.process_groups",
    "untrack_process_group": "sts_core.service.process_groups",
    "Reloader": "sts_core.service.reload",
    "ReloadResult": "sts_core.service.reload",
    "reloader_of": "sts_core.service.reload",
    "parse_size": "sts_core.service.sizes",
    "parse_whole_number": "sts_core.numbers",
    "JobState": "sts_core.store",
    "MemoryStore": "sts_core.store",
    "StateStore": "sts_core.store",
    "WriteRetries": "sts_core.store",
    "FunctionTask": "sts_core.task",
    "Task": "sts_core.task",
    "DateTrigger": "sts_core.triggers",
    "FunctionTrigger": "sts_core.triggers",
    "IntervalTrigger": "sts_core.triggers",
    "Trigger": "sts_core.triggers",
}

__all__, __getattr__, __dir__ = _lazy_exports(__name__, _API, eager=["__version__", "hookimpl"])
del typing, _lazy_exports

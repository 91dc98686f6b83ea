"""sts-shell: external commands as STS tasks, stopped and logged like a careful systemd unit.

Registers the task type ``shell`` (``type = shell`` in ``config.ini``); from Python, use
:class:`ShellTask` directly.
"""

from __future__ import annotations

import typing

import sts

if typing.TYPE_CHECKING:
    from .errors import CommandFailed as CommandFailed
    from .errors import CommandSetupError as CommandSetupError
    from .task import ShellResult as ShellResult
    from .task import ShellTask as ShellTask

# Imported on use: loading the plugin (as `sts --help` does) must not import asyncio.
_API = {
    "CommandFailed": ".errors",
    "CommandSetupError": ".errors",
    "ShellResult": ".task",
    "ShellTask": ".task",
}

__all__, __getattr__, __dir__ = sts.lazy_exports(__name__, _API, eager=["sts_register_task_types"])
del typing


@sts.hookimpl
def sts_register_task_types(register: sts.RegisterTaskType) -> None:
    from .task import ShellTask

    register("shell", ShellTask)

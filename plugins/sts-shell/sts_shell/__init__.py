"""sts-shell: external commands as STS tasks, stopped and logged like a careful systemd unit.

Registers the task type ``shell`` (``type = shell`` in ``config.ini``); from Python, use
:class:`ShellTask` directly.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sts

if TYPE_CHECKING:
    from .errors import CommandFailed, CommandSetupError
    from .task import ShellResult, ShellTask

__all__ = ["CommandFailed", "CommandSetupError", "ShellResult", "ShellTask"]

# Imported on use: loading the plugin (as `sts --help` does) must not import asyncio.
_LAZY = {
    "CommandFailed": ".errors",
    "CommandSetupError": ".errors",
    "ShellResult": ".task",
    "ShellTask": ".task",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sts_shell' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


@sts.hookimpl
def sts_register_task_types(register: Callable[..., None]) -> None:
    from .task import ShellTask

    register("shell", ShellTask)

"""sts-shell: external commands as STS tasks, stopped and logged like a careful systemd unit.

Registers the task type ``shell`` (``type = shell`` in ``config.ini``); from Python, use
:class:`ShellTask` directly.
"""

from __future__ import annotations

from collections.abc import Callable

import sts

from .errors import CommandFailed, CommandSetupError
from .task import ShellResult, ShellTask

__all__ = ["CommandFailed", "CommandSetupError", "ShellResult", "ShellTask"]


@sts.hookimpl
def sts_register_task_types(register: Callable[..., None]) -> None:
    register("shell", ShellTask)

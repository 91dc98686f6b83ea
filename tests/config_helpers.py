"""Shared by the config, secrets and log-sink tests: a task type with annotated options,
a plugin manager that has it, and a config file writer. (The reset of what a built
configuration installs process-wide is the autouse fixture of sts.testing.)"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal

import sts
from sts_core.durations import Duration

task_logger = logging.getLogger("sts.test.greet")


class Greeter(sts.Task):
    """A task type whose options cover the conversions a config file does."""

    def __init__(
        self,
        who: str,
        times: int = 1,
        loud: bool = False,
        ratio: float = 1.0,
        out: Path | None = None,
        tags: list[str] | None = None,
        pause: Duration = 0,
        every: timedelta | None = None,
        mode: Literal["plain", "fancy"] = "plain",
        fail: bool = False,
    ) -> None:
        super().__init__()
        self.who = who
        self.times = times
        self.loud = loud
        self.ratio = ratio
        self.out = out
        self.tags = tags
        self.pause = pause
        self.every = every
        self.mode = mode
        self.fail = fail

    async def run(self) -> None:
        who = sts.resolve_secrets(self.who)  # at run time, as task types must
        if self.out is not None:
            with self.out.open("a") as file:
                file.write(f"hello {who}\n")
        task_logger.info("greeting %s", who)
        sts.current_run().output["stderr"] = f"said hello to {who}"
        if self.fail:
            raise RuntimeError(f"the server refused {who}")


class GreetPlugin:
    @sts.hookimpl
    def sts_register_task_types(self, register: Callable[..., None]) -> None:
        register("greet", Greeter)


def make_plugins(*extra: object) -> sts.Plugins:
    """Built-in plugins, the ``greet`` task type and ``extra``; no installed plugins."""
    plugins = sts.create_plugins(load_entry_points=False)
    plugins.register(GreetPlugin(), name="greet-plugin")
    for number, plugin in enumerate(extra):
        plugins.register(plugin, name=f"extra-{number}")
    return plugins


def write_config(directory: Path, text: str, *, mode: int = 0o600, name: str = "sts.ini") -> Path:
    path = directory / name
    path.write_text(text)
    os.chmod(path, mode)
    return path

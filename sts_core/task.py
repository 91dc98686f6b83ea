"""Tasks: the work a job does."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, ClassVar

from .durations import Duration
from .policy import RetryPolicy

#: The thread pool of the scheduler running the current task (``None``: asyncio's default).
thread_pool: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "sts_thread_pool", default=None
)


class Task:
    """Base class for tasks: subclass it and define ``async def run(self)``.

    Class attributes set the task's job policies; every ``schedule*`` call can override
    them. Sync work belongs in ``run_sync`` instead: it runs in a thread pool, so it never
    blocks the event loop.

    :param name: the task's name in the registry; by default the class name.
    """

    retries: ClassVar[int | RetryPolicy] = 0
    timeout: ClassVar[Duration | None] = None
    overlap: ClassVar[str] = "skip"
    misfire_grace: ClassVar[Duration | None] = "60s"
    coalesce: ClassVar[bool] = True
    jitter: ClassVar[Duration] = 0

    def __init__(self, *, name: str | None = None) -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name or type(self).__name__

    @property
    def has_explicit_name(self) -> bool:
        return self._name is not None

    def _rename(self, name: str) -> None:
        self._name = name

    async def run(self) -> Any:
        """The work. The scheduler awaits it for every run."""
        raise NotImplementedError(f"{type(self).__name__} must define 'async def run(self)'")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class FunctionTask(Task):
    """A task made of a plain function, sync or async.

    A sync function runs in the scheduler's thread pool (with the run's context, so
    ``sts.current_run()`` works there too).
    """

    def __init__(self, function: Callable[[], Any], *, name: str | None = None) -> None:
        super().__init__(name=name or getattr(function, "__name__", None) or repr(function))
        self.function = function
        self.is_async = inspect.iscoroutinefunction(
            function.func if isinstance(function, functools.partial) else function
        )

    async def run(self) -> Any:
        if self.is_async:
            return await self.function()
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(thread_pool.get(), context.run, self.function)


class PythonTask(FunctionTask):
    """The ``python`` task type for config files: ``callable = package.module:function``."""

    def __init__(self, callable: str) -> None:
        super().__init__(import_callable(callable))


def _searched_directories() -> list[str]:
    """The directories on ``sys.path`` that are not Python's own or installed packages:
    where a user's module is looked for (the config file's directory, the current one)."""
    installed = {os.path.realpath(prefix) for prefix in (sys.prefix, sys.base_prefix)}
    found = []
    for entry in sys.path:
        real = os.path.realpath(entry or os.curdir)
        if os.path.isdir(real) and not any(
            real == prefix or real.startswith(prefix + os.sep) for prefix in installed
        ):
            found.append(entry or os.getcwd())
    return found or [os.getcwd()]


def import_callable(path: str) -> Callable[..., Any]:
    """Import ``package.module:attribute`` (dots after the colon walk attributes).

    :raises ValueError: naming the path and what went wrong.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"invalid callable {path!r}: expected 'package.module:function'")
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise ValueError(
            f"cannot import {module_name!r} for {path!r}: {error}; looked in "
            f"{', '.join(_searched_directories())} and the installed packages"
        ) from None
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r} for {path!r}: {error}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}") from None
    if not callable(target):
        raise ValueError(f"{path!r} is {target!r}, which is not callable")
    return target  # type: ignore[no-any-return]

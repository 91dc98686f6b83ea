"""Tasks: the work a job does."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, ClassVar

from .durations import Duration
from .importing import import_callable
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

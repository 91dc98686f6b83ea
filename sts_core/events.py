"""Telling the world what a scheduler does: plugins' lifecycle hooks and the listeners of
one scheduler (the control socket), from one place.

A hook that no plugin implements, and an empty list of listeners, cost one check on the
hot path and nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import Job
    from .plugins import Plugins
    from .records import RunContext, RunRecord
    from .scheduler import TaskScheduler

logger = logging.getLogger("sts")

#: ``listener(event, **facts)``.
Listener = Callable[..., None]


class Notifier:
    """Calls the lifecycle hooks of the plugins and a scheduler's own listeners."""

    def __init__(self, scheduler: TaskScheduler) -> None:
        self._scheduler = scheduler
        self.listeners: list[Listener] = []
        self._plugins: Plugins | None = None
        self._run_started: Any = None
        self._run_finished: Any = None
        self._job_changed: Any = None

    def bind(self, plugins: Plugins) -> None:
        """Look the hooks up once, when the scheduler starts: only implemented ones are
        called afterwards."""
        self._plugins = plugins

        def implemented(name: str) -> Any:
            return getattr(plugins.hook, name) if plugins.has_impls(name) else None

        self._run_started = implemented("sts_run_started")
        self._run_finished = implemented("sts_run_finished")
        self._job_changed = implemented("sts_job_changed")

    def unbind(self) -> None:
        self._plugins = self._run_started = self._run_finished = self._job_changed = None

    def scheduler_started(self) -> None:
        if self._plugins is not None:
            _call(self._plugins.hook.sts_scheduler_started, scheduler=self._scheduler)

    def scheduler_stopping(self, grace: float) -> None:
        if self._plugins is not None:
            _call(self._plugins.hook.sts_scheduler_stopping, scheduler=self._scheduler, grace=grace)

    def run_started(self, run: RunContext) -> None:
        if self._run_started is not None:
            _call(self._run_started, run=run, scheduler=self._scheduler)
        if self.listeners:
            self._tell("run_started", run=run)

    def run_finished(self, record: RunRecord) -> None:
        if self._run_finished is not None:
            _call(self._run_finished, record=record, scheduler=self._scheduler)
        if self.listeners:
            self._tell("run_finished", record=record)

    def job_changed(self, job: Job, change: str) -> None:
        if self.listeners:
            self._tell("job_changed", job=job, change=change)
        if self._job_changed is not None:
            _call(self._job_changed, scheduler=self._scheduler, job=job, change=change)

    def _tell(self, event: str, **facts: Any) -> None:
        for listener in list(self.listeners):
            try:
                listener(event, **facts)
            except Exception:
                logger.exception("a scheduler listener failed on %s", event)


def _call(hook: Any, **kwargs: Any) -> None:
    # An observer must never stop the scheduler, nor the plugins called after it (pluggy
    # stops a hook call at the first exception): each implementation is called on its own,
    # in pluggy's order, and its failure logged, then ignored.
    impls = hook.get_hookimpls()
    if any(impl.hookwrapper or impl.wrapper for impl in impls):  # only pluggy runs those
        try:
            hook(**kwargs)
        except Exception:
            logger.exception("a plugin's %s hook failed", hook.name)
        return
    for impl in reversed(impls):
        try:
            impl.function(*[kwargs[name] for name in impl.argnames])
        except Exception:
            logger.exception("the %s hook of plugin %r failed", hook.name, impl.plugin_name)

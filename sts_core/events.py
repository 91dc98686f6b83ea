"""Telling the world what a scheduler does: plugins' lifecycle hooks and the listeners of
one scheduler (the control socket), from one place.

A hook that no plugin implements, and an empty list of listeners, cost one check on the
hot path and nothing more. The hooks' implementations are looked up when they are called
(cached by the plugin registry until a plugin is registered or unregistered), so a plugin
registered while the scheduler runs sees the next job and run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import Job
    from .plugins import Implementation, Plugins
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

    def bind(self, plugins: Plugins) -> None:
        """The plugins whose hooks to call, while the scheduler runs."""
        self._plugins = plugins

    def unbind(self) -> None:
        self._plugins = None

    def scheduler_started(self) -> None:
        each = self._observers("sts_scheduler_started")
        if each != ():
            self._observe(each, "sts_scheduler_started", scheduler=self._scheduler)

    def scheduler_stopping(self, grace: float) -> None:
        each = self._observers("sts_scheduler_stopping")
        if each != ():
            self._observe(each, "sts_scheduler_stopping", scheduler=self._scheduler, grace=grace)

    def run_started(self, run: RunContext) -> None:
        each = self._observers("sts_run_started")
        if each != ():
            self._observe(each, "sts_run_started", run=run, scheduler=self._scheduler)
        if self.listeners:
            self._tell("run_started", run=run)

    def run_finished(self, record: RunRecord) -> None:
        each = self._observers("sts_run_finished")
        if each != ():
            self._observe(each, "sts_run_finished", record=record, scheduler=self._scheduler)
        if self.listeners:
            self._tell("run_finished", record=record)

    def job_changed(self, job: Job, change: str) -> None:
        if self.listeners:
            self._tell("job_changed", job=job, change=change)
        each = self._observers("sts_job_changed")
        if each != ():
            self._observe(
                each, "sts_job_changed", scheduler=self._scheduler, job=job, change=change
            )

    def _observers(self, hook_name: str) -> tuple[Implementation, ...] | None:
        """The implementations of an observer hook (``None``: only pluggy calls them right);
        ``()`` when there is nothing to call, checked before a call's arguments are built
        (this runs three times a run)."""
        plugins = self._plugins
        return () if plugins is None else plugins.implementations(hook_name)

    def _observe(
        self, each: tuple[Implementation, ...] | None, hook_name: str, **kwargs: Any
    ) -> None:
        """Call an observer hook so that no plugin stops the scheduler, nor the plugins
        called after it (pluggy stops a hook call at the first exception): each
        implementation on its own, in pluggy's order, its failure logged, then ignored."""
        if each is None:  # only pluggy calls these right (a wrapper among them...)
            assert self._plugins is not None
            try:
                getattr(self._plugins.hook, hook_name)(**kwargs)
            except Exception:
                logger.exception("a plugin's %s hook failed", hook_name)
            return
        for function, argnames, plugin_name in each:
            try:
                function(*map(kwargs.__getitem__, argnames))
            except Exception:
                logger.exception("the %s hook of plugin %r failed", hook_name, plugin_name)

    def _tell(self, event: str, **facts: Any) -> None:
        for listener in list(self.listeners):
            try:
                listener(event, **facts)
            except Exception:
                logger.exception("a scheduler listener failed on %s", event)

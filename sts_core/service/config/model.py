"""The effective configuration, and the scheduler it describes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...secrets import use_secret_providers
from .errors import ConfigError, Problem
from .factories import plan_logging, plan_secret_providers, plan_store
from .jobs import JobSpec, build_jobs, job_sections
from .layers import Settings
from .render import render_settings

if TYPE_CHECKING:
    from ...clock import Clock
    from ...plugins import Plugins
    from ...scheduler import TaskScheduler
    from ...store import StateStore


class Config:
    """Every setting with its origin, from all layers. Build it with ``load_config``."""

    def __init__(
        self,
        path: Path | None,
        settings: Settings,
        *,
        plugins: Plugins | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self._plugins = plugins
        self.warnings: list[str] = warnings or []
        """Risky but valid things found while loading (a plain-text secret)."""

    @property
    def plugins(self) -> Plugins:
        if self._plugins is None:
            from ...plugins import default_plugins

            self._plugins = default_plugins()
        return self._plugins

    @property
    def scheduler_name(self) -> str:
        """``[scheduler] name``, ``sts`` by default."""
        return (self.value("scheduler", "name") or "sts").strip()

    @property
    def timezone(self) -> str | None:
        """``[scheduler] timezone``; ``None`` for the machine's zone."""
        zone = (self.value("scheduler", "timezone") or "local").strip()
        return None if zone.lower() == "local" else zone

    @property
    def job_names(self) -> list[str]:
        """The jobs the configuration declares, in order."""
        return [section.partition(":")[2].strip() for section in job_sections(self.settings)]

    def value(self, section: str, key: str) -> str | None:
        """The effective value of ``key`` in ``section``, or ``None`` when unset.

        A secret reference comes back as is (``${secret:NAME}``): resolving is the task's.
        """
        return self.settings.value(section, key.lower())

    def origin(self, section: str, key: str) -> str:
        """Where the value came from: ``default``, ``/x/sts.ini:12``, ``env LOG_LEVEL``,
        ``command line``, a config source's origin; ``unset`` when it has no value."""
        setting = self.settings.get(section, key.lower())
        return "unset" if setting is None else setting.origin

    def render(self) -> str:
        """``sts config``: every effective value with its origin; secrets redacted."""
        where = str(self.path) if self.path else "no config file (defaults only)"
        return render_settings(self.settings, f"effective configuration; file: {where}")

    def jobs(self, *, scheduler: TaskScheduler | None = None) -> list[JobSpec]:
        """Every job, checked: its task built, its schedule and policies validated.

        :raises ConfigError: listing every problem of every job.
        """
        specs, problems = build_jobs(self.settings, self.plugins, scheduler or self._parser())
        if problems:
            raise ConfigError(problems)
        return specs

    def offline_scheduler(self) -> TaskScheduler:
        """The scheduler this configuration describes, its jobs scheduled, but with an
        in-memory store and nothing installed: no log sink, no secret provider, no file
        opened. For reading a configuration (``sts jobs``, ``sts plan``) without running it.

        :raises ConfigError: listing every problem of every job.
        """
        scheduler = self._parser()
        self._schedule(scheduler, self.jobs(scheduler=scheduler))
        return scheduler

    @staticmethod
    def _schedule(scheduler: TaskScheduler, specs: list[JobSpec]) -> None:
        for spec in specs:
            # Each job's task is named after its job, so two jobs of one callable are two
            # tasks.
            scheduler.add_task(spec.task, name=spec.name)
            try:
                scheduler.schedule(spec.task, spec.schedule, name=spec.name, **spec.policy)
            except ValueError as error:
                raise ConfigError(Problem(str(error), section=spec.section)) from None

    def _parser(self) -> TaskScheduler:
        from ...scheduler import TaskScheduler
        from ...store import MemoryStore

        return TaskScheduler(
            name=self.scheduler_name,
            timezone=self.timezone,
            plugins=self.plugins,
            store=MemoryStore(),
        )

    def build_scheduler(
        self,
        *,
        clock: Clock | None = None,
        store: StateStore | None = None,
        **scheduler_options: Any,
    ) -> TaskScheduler:
        """The scheduler this configuration describes, its jobs scheduled.

        Every job, sink, secret provider and the store are checked before anything is
        built: a bad configuration raises one ``ConfigError`` listing every problem,
        and creates no file. Then the secret providers are installed, logging is
        configured through the log sinks, and the store is opened (unless ``store`` is
        given).

        :param scheduler_options: more ``TaskScheduler`` arguments (``control_socket``,
            ``blocking``...); they win over the file's.
        """
        from ...scheduler import TaskScheduler

        plugins = self.plugins
        name = self.scheduler_name
        specs, problems = build_jobs(self.settings, plugins, self._parser())
        logging_plan, found = plan_logging(self.settings, plugins.log_sinks, name)
        problems += found
        provider_calls, found = plan_secret_providers(self.settings, plugins.secret_providers)
        problems += found
        store_call = None
        if store is None:
            store_call, found = plan_store(self.settings, plugins.state_stores, name)
            problems += found
        if problems:
            raise ConfigError(problems)

        use_secret_providers([call.build() for call in provider_calls])
        from ..logsinks import install_sinks

        install_sinks(logging_plan.build(), logging_plan.level)
        if store_call is not None:
            store = store_call.build()
        arguments: dict[str, Any] = {
            "name": name,
            "timezone": self.timezone,
            "clock": clock,
            "store": store,
            "plugins": plugins,
            "stop_grace": self.value("scheduler", "stop_grace") or "30s",
        }
        threshold = (self.value("scheduler", "loop_block_threshold") or "1s").strip()
        arguments["loop_block_threshold"] = None if threshold.lower() == "none" else threshold
        workers = (self.value("scheduler", "max_workers") or "").strip()
        if workers:
            arguments["max_workers"] = int(workers)
        arguments.update(scheduler_options)
        scheduler = TaskScheduler(**arguments)
        self._schedule(scheduler, specs)
        return scheduler

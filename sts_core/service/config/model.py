"""The effective configuration, and the scheduler it describes."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...plugins import Plugins, default_plugins
from ...timezones import local_zone, resolve_timezone
from ..registries import log_sinks, secret_providers
from ..secrets import use_secret_providers
from ..start_line import facts_of
from .errors import ConfigError, Problem
from .executors import plan_executors
from .factories import (
    FactoryCall,
    LoggingPlan,
    plan_logging,
    plan_secret_providers,
    plan_store,
)
from .imports import callable_directories, make_importable
from .jobs import JobOutline, JobSpec, build_jobs, job_sections, outline_jobs
from .layers import Settings
from .render import render_settings
from .secret_check import missing_secrets

if TYPE_CHECKING:
    from ...clock import Clock
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
        section_problems: list[Problem] | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.plugins: Plugins = plugins if plugins is not None else default_plugins()
        self.warnings: list[str] = warnings or []
        """Risky but valid things found while loading (a plain-text secret)."""
        self.section_problems: list[Problem] = section_problems or []
        """Problems of the fixed sections; ``load_config`` raises them, ``read_config``
        keeps them here for ``check``."""
        self.sources: list[object] = []
        """The config sources that were loaded, in order (``read_config`` sets them)."""
        self.reread: Callable[[], Config] | None = None
        """Reads this configuration again from all its layers (``read_config`` sets it):
        what a live reload calls."""

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

    @property
    def zone_problem(self) -> str | None:
        """Why the machine's zone, which this configuration uses, is UTC or in doubt."""
        if self.timezone is not None:
            return None
        return local_zone().problem

    def render(self) -> str:
        """``sts config``: every effective value with its origin; secrets redacted; the
        warnings (a plain-text secret, an unknown machine zone) as comments on top."""
        where = str(self.path) if self.path else "no config file (defaults only)"
        warnings = [*self.warnings, *([self.zone_problem] if self.zone_problem else [])]
        return render_settings(
            self.settings, f"effective configuration; file: {where}", warnings=warnings
        )

    def jobs(self, only: Collection[str] | None = None) -> list[JobSpec]:
        """Every job, checked and built once: its task, its trigger and its policy.

        :param only: build just these job sections (``job:NAME``).
        :raises ConfigError: listing every problem of every job.
        """
        make_importable(callable_directories(self.path))
        specs, problems = build_jobs(self.settings, self.plugins, self._job_zone(), only)
        if problems:
            raise ConfigError(problems)
        return specs

    def job_outlines(self) -> list[JobOutline]:
        """Every job's trigger and plan policies, checked, without building its task (no
        user code is imported).

        :raises ConfigError: listing every problem of the schedules and those policies.
        """
        outlines, problems = outline_jobs(self.settings, self.plugins, self._job_zone())
        if problems:
            raise ConfigError(problems)
        return outlines

    def open_store(self) -> StateStore:
        """The state store ``[scheduler] state`` names, made through the store registry
        with the options of ``[state]``.

        :raises ConfigError: naming a missing store or a bad option.
        """
        call, problems = plan_store(self.settings, self.plugins.state_stores, self.scheduler_name)
        if problems or call is None:
            raise ConfigError(problems)
        store: StateStore = call.build()
        return store

    @staticmethod
    def _schedule(scheduler: TaskScheduler, specs: list[JobSpec]) -> None:
        for spec in specs:
            # Each job's task is named after its job, so two jobs of one callable are two
            # tasks.
            scheduler.add_task(spec.task, name=spec.name)
            try:
                scheduler.schedule(spec.task, spec.trigger, name=spec.name, job_policy=spec.policy)
            except ValueError as error:
                raise ConfigError(Problem(str(error), section=spec.section)) from None

    def _job_zone(self) -> tzinfo:
        """The zone of the jobs' schedules: the scheduler's, or the machine's when
        ``[scheduler] timezone`` is invalid (reported as its own problem; the jobs are
        still checked)."""
        try:
            return resolve_timezone(self.timezone)
        except ValueError:
            return resolve_timezone(None)

    def _plan(
        self, *, with_store: bool
    ) -> tuple[
        tuple[list[JobSpec], LoggingPlan, list[FactoryCall], FactoryCall | None], list[Problem]
    ]:
        """What ``build_scheduler`` builds, each checked, and every problem found."""
        plugins = self.plugins
        name = self.scheduler_name
        make_importable(callable_directories(self.path))
        specs, problems = build_jobs(self.settings, plugins, self._job_zone())
        logging_plan, found = plan_logging(self.settings, log_sinks(plugins), name)
        problems += found
        provider_calls, found = plan_secret_providers(self.settings, secret_providers(plugins))
        problems += found
        store_call = None
        if with_store:
            store_call, found = plan_store(self.settings, plugins.state_stores, name)
            problems += found
        return (specs, logging_plan, provider_calls, store_call), problems

    def check(self, *, secrets: bool = True) -> tuple[list[JobSpec], list[Problem]]:
        """``sts check``: the jobs, and every problem of the configuration, all together:
        the fixed sections, every job (its ``python`` callable imported), the log sinks,
        the secret providers, the store's options, and each referenced secret's presence
        (asked of the configured providers; no value is shown). Nothing is started and no
        file is created.

        :param secrets: whether to ask the providers for each referenced secret.
        """
        plan, problems = self._plan(with_store=True)
        problems = [
            *self.section_problems,
            *problems,
            *plan_executors(self.settings, self.plugins)[2],
        ]
        specs, _, provider_calls, _ = plan
        if secrets and not any(problem.section == "secrets" for problem in problems):
            try:
                providers = [call.build() for call in provider_calls]
            except ConfigError as error:
                problems += error.problems
            else:
                problems += missing_secrets(self.settings, providers)
        return specs, problems

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
        plan, problems = self._plan(with_store=store is None)
        executor, executor_options, found = plan_executors(self.settings, plugins)
        problems = [*self.section_problems, *problems, *found]  # a [scheduler] typo too
        if problems:
            raise ConfigError(problems)
        specs, logging_plan, provider_calls, store_call = plan

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
            "executor": executor,
            "executor_options": executor_options,
        }
        threshold = (self.value("scheduler", "loop_block_threshold") or "1s").strip()
        arguments["loop_block_threshold"] = None if threshold.lower() == "none" else threshold
        workers = (self.value("scheduler", "max_workers") or "").strip()
        if workers:
            arguments["max_workers"] = int(workers)
        arguments.update(scheduler_options)
        scheduler = TaskScheduler(**arguments)
        facts_of(scheduler).config_file = None if self.path is None else str(self.path)
        self._schedule(scheduler, specs)
        return scheduler

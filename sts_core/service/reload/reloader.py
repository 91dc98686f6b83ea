"""Live reload: read the configuration again from all its layers, compare it with what
runs, and apply the difference, all or nothing.

A reload is planned off the event loop (reading files and config sources, building the
jobs that are new or changed) and applied on it in one go, between two fires: the fire
loop never sees half a configuration. Jobs whose settings did not change are not touched
at all: their task, next fire, state and history stay as they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...durations import parse_duration
from ...job import Job
from ...timezones import resolve_timezone
from ..config.errors import ConfigError, Problem
from ..config.factories import plan_logging, plan_secret_providers, plan_store
from ..config.jobs import JOB_PREFIX, JobSpec, job_sections
from ..notifications import notifications_of
from ..registries import log_sinks, secret_providers
from .diff import SCHEDULE_KEYS, ReloadResult
from .fingerprint import Fingerprints, changed_keys, fixed_settings, job_fingerprints
from .registry import set_reloader

if TYPE_CHECKING:
    from ...scheduler import TaskScheduler
    from ..config.model import Config

logger = logging.getLogger("sts.reload")

ReloadListener = Callable[[ReloadResult], None]


@dataclass(slots=True)
class _Plan:
    """A new configuration, checked, and what applying it changes."""

    config: Config
    fingerprints: Fingerprints
    fixed: dict[str, str]
    added: list[str]
    removed: list[str]
    changed: dict[str, list[str]]
    specs: dict[str, JobSpec] = field(default_factory=dict)
    at_next_start: list[str] = field(default_factory=list)


class Reloader:
    """Reloads one scheduler from the configuration it was built from.

    :param scheduler: built by ``config.build_scheduler()``.
    :param config: that configuration (read by ``read_config``/``load_config``, which
        know how to read it again).
    """

    def __init__(self, scheduler: TaskScheduler, config: Config) -> None:
        if config.reread is None:
            raise ValueError("this configuration cannot be read again: use load_config")
        self.scheduler = scheduler
        self.config = config
        self._reread: Callable[[], Config] = config.reread
        self._fingerprints = job_fingerprints(config.settings)
        self._fixed = fixed_settings(config.settings, set(config.plugins.executors))
        self._lock: asyncio.Lock | None = None
        #: Called with every result, applied or refused (the control socket's event).
        self.listeners: list[ReloadListener] = []
        #: The latest result.
        self.last: ReloadResult | None = None
        self._requests: set[asyncio.Task[ReloadResult]] = set()

    def attach(self) -> Reloader:
        """Make this the scheduler's reloader (what ``sts reload`` and SIGHUP reach)."""
        set_reloader(self.scheduler, self)
        return self

    @property
    def jobs(self) -> list[str]:
        """The jobs the configuration manages (others, added in Python, are left alone)."""
        return list(self._fingerprints)

    def request(self, trigger: str) -> asyncio.Task[ReloadResult]:
        """Start a reload on the running loop, without waiting for it (a signal handler)."""
        task = asyncio.get_running_loop().create_task(self.reload(trigger))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)
        return task

    async def reload(self, trigger: str = "reload") -> ReloadResult:
        """Read the configuration again and apply the difference, or refuse it whole.

        :param trigger: what asked (``SIGHUP``, ``sts reload``, ``etcd watch``), logged.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one at a time: each compares against the last applied
            started = time.perf_counter()
            try:
                plan = await self._off_loop(self._plan)
                self._check(plan)
            except ConfigError as error:
                result = ReloadResult(False, trigger, errors=[str(p) for p in error.problems])
            except Exception as error:  # a config source or a task type may raise anything
                result = ReloadResult(False, trigger, errors=[f"{type(error).__name__}: {error}"])
            else:
                try:
                    result = self._apply(plan, trigger)
                except Exception as error:  # checked before; never leave a watch dead on it
                    logger.exception("reload failed while it was applied")
                    result = ReloadResult(
                        False,
                        trigger,
                        errors=[
                            f"{type(error).__name__}: {error} (while applying: part of the "
                            f"change may be in effect; restart the scheduler to be sure)"
                        ],
                    )
            result.seconds = time.perf_counter() - started
            self._tell(result)
            return result

    async def _off_loop(self, function: Callable[[], _Plan]) -> _Plan:
        waiting = asyncio.to_thread(function)
        # A virtual clock must not jump ahead while the files and sources are read.
        wait_real = getattr(self.scheduler.clock, "wait_real", None)
        if wait_real is not None:
            plan: _Plan = await wait_real(waiting)
            return plan
        return await waiting

    def _plan(self) -> _Plan:
        """Read and check the new configuration; build the jobs that are new or changed."""
        config = self._reread()
        if config.section_problems:
            raise ConfigError(config.section_problems)
        settings = config.settings
        new = job_fingerprints(settings)
        old = self._fingerprints
        added = [name for name in new if name not in old]
        removed = [name for name in old if name not in new]
        changed: dict[str, list[str]] = {}
        for name, values in new.items():
            previous = old.get(name)
            if previous is not None and previous != values:
                changed[name] = changed_keys(previous, values)
        wanted = {*added, *changed}
        sections = [
            section
            for section in job_sections(settings)
            if section[len(JOB_PREFIX) :].strip() in wanted
        ]
        problems: list[Problem] = []
        try:
            specs = config.jobs(only=sections)
        except ConfigError as error:
            problems += error.problems
            specs = []
        name = config.scheduler_name
        plugins = config.plugins
        problems += plan_logging(settings, log_sinks(plugins), name)[1]
        problems += plan_secret_providers(settings, secret_providers(plugins))[1]
        problems += plan_store(settings, plugins.state_stores, name)[1]
        if problems:
            raise ConfigError(problems)
        fixed = fixed_settings(settings, set(plugins.executors))
        return _Plan(
            config,
            new,
            fixed,
            added,
            removed,
            changed,
            {spec.name: spec for spec in specs},
            changed_keys(self._fixed, fixed),
        )

    def _check(self, plan: _Plan) -> None:
        """What could still fail while applying, checked before anything changes."""
        scheduler = self.scheduler
        problems = []
        for name in plan.added:
            spec = plan.specs[name]
            if _exists(scheduler.get_job, name) or _exists(scheduler.get_task, name):
                problems.append(
                    Problem(
                        f"a job or task named {name!r} already runs, not from the "
                        f"configuration (added in Python?): rename the job",
                        section=spec.section,
                    )
                )
        now = scheduler.clock.now()
        for name in [*plan.added, *plan.changed]:
            spec = plan.specs[name]
            try:  # what schedule() asks the trigger first, asked here so it cannot fail there
                first = getattr(spec.trigger, "first_fire_time", None)
                if first is not None:
                    first(now)
                else:
                    Job(spec.name, spec.task, spec.trigger, spec.policy).fire_after(now)
            except Exception as error:
                problems.append(
                    Problem(
                        f"the schedule cannot give its next fire: {error}",
                        section=spec.section,
                        key="schedule",
                    )
                )
        for spec in plan.specs.values():
            notify = spec.policy.notify
            for channel in notify.channels:
                try:
                    notifications_of(scheduler).notifier(channel, notify)
                except Exception as error:
                    problems.append(Problem(str(error), section=spec.section, key="notify"))
        if problems:
            raise ConfigError(problems)

    def _apply(self, plan: _Plan, trigger: str) -> ReloadResult:
        """Apply a checked plan, on the scheduler's loop, in one go."""
        scheduler = self.scheduler
        config = plan.config
        scheduler.timezone = resolve_timezone(config.timezone)
        scheduler.stop_grace = parse_duration(
            config.value("scheduler", "stop_grace") or "30s", what="stop_grace"
        )
        for name in plan.removed:
            if _exists(scheduler.get_job, name):  # `sts remove` may have removed it already
                scheduler.remove_task(scheduler.get_job(name).task)
        for name in plan.added:
            spec = plan.specs[name]
            scheduler.add_task(spec.task, name=spec.name)
            scheduler.schedule(spec.task, spec.trigger, name=spec.name, job_policy=spec.policy)
        for name, keys in plan.changed.items():
            spec = plan.specs[name]
            moved = not SCHEDULE_KEYS.isdisjoint(keys)
            job = scheduler.schedule(
                spec.task, spec.trigger, name=name, job_policy=spec.policy, replace=True
            )
            if "paused" in keys and job.paused != spec.policy.paused:
                (scheduler.pause if spec.policy.paused else scheduler.resume)(job)
            elif moved and job.paused_reason is not None and not spec.policy.paused:
                scheduler.resume(job)  # set aside for a broken schedule, which changed
        self.config = config
        self._reread = config.reread or self._reread
        self._fingerprints = plan.fingerprints
        self._fixed = plan.fixed
        unchanged = len(plan.fingerprints) - len(plan.added) - len(plan.changed)
        return ReloadResult(
            True,
            trigger,
            added=plan.added,
            removed=plan.removed,
            changed=plan.changed,
            unchanged=unchanged,
            at_next_start=plan.at_next_start,
        )

    def _tell(self, result: ReloadResult) -> None:
        self.last = result
        lines = result.describe()
        if not result.ok:
            logger.error("%s", "\n".join(lines), extra=_fields(result))
        else:
            logger.info("%s", "\n".join(lines), extra=_fields(result))
            if result.at_next_start:
                logger.warning("%s", result.fixed_warning())
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception:
                logger.exception("a reload listener failed")


def _exists(get: Callable[[str], object], name: str) -> bool:
    try:
        get(name)
    except KeyError:
        return False
    return True


def _fields(result: ReloadResult) -> dict[str, object]:
    return {"event": "config_reloaded" if result.ok else "config_reload_refused"} | {
        key: value for key, value in result.to_dict().items() if key != "ok"
    }


def reloadable_scheduler(config: Config, **options: object) -> TaskScheduler:
    """``config.build_scheduler(**options)``, with a reloader attached: SIGHUP (under
    ``run()``), ``sts reload`` and config sources that watch reach it."""
    scheduler = config.build_scheduler(**options)  # type: ignore[arg-type]
    if config.reread is not None:
        Reloader(scheduler, config).attach()
    return scheduler

"""Jobs declared in ``[job:NAME]`` sections: a task type, a schedule, job policies, and
the task type's options. Every job is checked, and every problem reported, before the
scheduler starts."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any

from ...plugins import Plugins
from ...policy import JobPolicy
from ...redaction import redact
from ...task import Task
from ...timezones import resolve_timezone
from ...triggers import Trigger
from ..secrets import has_secret
from .errors import Problem
from .layers import Setting, Settings
from .notify import (
    check_plugin_sections,
    is_channel_option,
    plan_notifications,
    with_notify_defaults,
)
from .options import convert_options, signature_of

JOB_PREFIX = "job:"
#: Keys of a job section that are not options of its task type.
RESERVED_KEYS = ("type", "schedule")


@dataclass(slots=True)
class JobSpec:
    """A checked job, built once and ready to be scheduled as it is."""

    name: str
    section: str
    task_type: str
    task: Task
    trigger: Trigger
    policy: JobPolicy


def job_sections(settings: Settings) -> list[str]:
    return [section for section in settings.sections if section.startswith(JOB_PREFIX)]


def build_jobs(
    settings: Settings,
    plugins: Plugins,
    timezone: tzinfo,
    only: Collection[str] | None = None,
) -> tuple[list[JobSpec], list[Problem]]:
    """The jobs of ``settings`` and every problem found in them.

    :param timezone: the scheduler's zone, for the schedules of jobs that name none.
    :param only: build just these job sections (a live reload builds what changed).
    """
    specs: list[JobSpec] = []
    problems: list[Problem] = check_plugin_sections(settings, plugins)
    for section in job_sections(settings):
        if only is not None and section not in only:
            continue
        spec, found = _build_job(section, settings, plugins, timezone)
        problems.extend(found)
        if spec is not None:
            specs.append(spec)
    return specs, problems


def _build_job(
    section: str, settings: Settings, plugins: Plugins, timezone: tzinfo
) -> tuple[JobSpec | None, list[Problem]]:
    name = section[len(JOB_PREFIX) :].strip()
    keys = with_notify_defaults(settings, settings.sections[section])
    section_origin = settings.section_origins.get(section)
    problems: list[Problem] = []

    policy: dict[str, Any] = {
        key: setting.value for key, setting in keys.items() if key in JobPolicy.KEYS
    }
    problems += _check_policy(section, keys, policy)
    trigger, found = _build_trigger(name, section, keys, section_origin, policy, plugins, timezone)
    problems += found
    notify_options, found = plan_notifications(section, keys, settings, plugins)
    problems += found
    if notify_options:
        policy["notify_options"] = notify_options

    type_setting = keys.get("type")
    registry = plugins.task_types
    if type_setting is None:
        problems.append(
            Problem(
                f"missing key: every job needs a task type, one of {_installed(registry)}",
                origin=section_origin,
                section=section,
                key="type",
            )
        )
        return None, problems
    task_type = type_setting.value.strip()
    if task_type not in registry:
        problems.append(
            Problem(
                registry.missing_message(task_type),
                origin=type_setting.origin,
                section=section,
                key="type",
            )
        )
        return None, problems
    task_class = registry.get(task_type)
    signature = signature_of(task_class, skip=("name",))
    # A section named after the task type ([email]) gives defaults; the job's keys win.
    defaults = {
        key: setting
        for key, setting in settings.sections.get(task_type, {}).items()
        if key in signature.options
    }
    own = {
        key: setting
        for key, setting in keys.items()
        if key not in RESERVED_KEYS and key not in JobPolicy.KEYS and not is_channel_option(key)
    }
    options = {**defaults, **own}
    what = f"the task type {task_type!r}"
    arguments, option_problems = convert_options(
        signature,
        section,
        options,
        what=what,
        section_origin=section_origin,
        also_known=[*RESERVED_KEYS, *JobPolicy.KEYS],
    )
    # A bad default is the [<task type>] section's problem, not the job's.
    problems += [
        replace(problem, section=task_type) if problem.key in defaults.keys() - own else problem
        for problem in option_problems
    ]
    try:
        # Built even when the section has other problems, so that they are reported
        # together with this one (a `python` callable that does not import).
        task = task_class(**arguments)
    except Exception as error:  # a task type's own check of its options
        if option_problems and isinstance(error, TypeError):
            return None, problems  # a missing or misspelt option: reported already
        only_key = next(iter(options)) if len(options) == 1 else _named_key(error, options)
        origin = options[only_key].origin if only_key else section_origin
        problems.append(
            Problem(
                f"{what} refused its options: {redact(str(error))}",
                origin=origin,
                section=section,
                key=only_key,
            )
        )
        return None, problems
    if problems or trigger is None:
        return None, problems
    try:
        job_policy = JobPolicy.build(task, **policy)  # checked above, now with the task's
    except (ValueError, TypeError) as error:
        problems.append(Problem(str(error), origin=section_origin, section=section))
        return None, problems
    return JobSpec(name, section, task_type, task, trigger, job_policy), problems


@dataclass(slots=True)
class JobOutline:
    """A job's schedule and the policies that shape its plan, read without its task."""

    name: str
    trigger: Trigger
    policy: JobPolicy


#: The policies that decide when a job fires (and import no user code, unlike retry_on).
PLAN_KEYS = ("timezone", "start", "end", "paused")


def outline_jobs(
    settings: Settings, plugins: Plugins, timezone: tzinfo
) -> tuple[list[JobOutline], list[Problem]]:
    """Each job's trigger and plan policies, and every problem found in them. No task is
    built, so no user code is imported: what ``sts jobs`` and ``sts plan`` show when no
    scheduler runs."""
    outlines: list[JobOutline] = []
    problems: list[Problem] = []
    for section in job_sections(settings):
        name = section[len(JOB_PREFIX) :].strip()
        keys = settings.sections[section]
        policy = {key: setting.value for key, setting in keys.items() if key in PLAN_KEYS}
        found = _check_policy(section, keys, policy)
        origin = settings.section_origins.get(section)
        trigger, more = _build_trigger(name, section, keys, origin, policy, plugins, timezone)
        problems += found + more
        if trigger is not None and not found:
            outlines.append(JobOutline(name, trigger, JobPolicy.build(**policy)))
    return outlines, problems


def _named_key(error: Exception, options: dict[str, Setting]) -> str | None:
    """The option an error names the way task types do (``invalid expect '...'``), so that
    the message points at its line rather than at the section's."""
    words = str(error).split(maxsplit=2)
    if len(words) >= 2 and words[0] == "invalid" and words[1] in options:
        return words[1]
    return None


def _installed(registry: Any) -> str:
    return ", ".join(sorted(registry)) or "none"


def _check_policy(section: str, keys: dict[str, Setting], policy: dict[str, str]) -> list[Problem]:
    problems = []
    for key, value in policy.items():
        problem = _policy_problem(key, value)
        if problem is not None:
            problems.append(Problem(problem, origin=keys[key].origin, section=section, key=key))
    if not problems:
        # Keys that are fine alone but not together.
        problem = _policy_problem(None, policy)
        if problem is not None:
            # Point at the key the message names ("invalid end ...: it must be after start").
            named = problem.split(" ", 2)[1] if problem.startswith("invalid ") else None
            if named in keys:
                problems.append(
                    Problem(problem, origin=keys[named].origin, section=section, key=named)
                )
            else:
                problems.append(Problem(problem, origin=None, section=section))
    return problems


def _policy_problem(key: str | None, value: Any) -> str | None:
    overrides = value if key is None else {key: value}
    if key is not None and has_secret(value):
        return "a job policy cannot be a secret"
    try:
        JobPolicy.build(**overrides)
    except Exception as error:  # retry_on imports user code, which may raise anything
        return str(error) if isinstance(error, ValueError | TypeError) else repr(error)
    return None


def _build_trigger(
    name: str,
    section: str,
    keys: dict[str, Setting],
    section_origin: str | None,
    policy: dict[str, str],
    plugins: Plugins,
    timezone: tzinfo,
) -> tuple[Trigger | None, list[Problem]]:
    kinds = _installed(plugins.triggers)
    setting = keys.get("schedule")
    if setting is None:
        return None, [
            Problem(
                f"missing key: expected schedule = <kind> <spec> with kind one of {kinds}, "
                f"e.g. 'every 10s'",
                origin=section_origin,
                section=section,
                key="schedule",
            )
        ]
    zone = timezone
    if "timezone" in policy:
        try:
            zone = resolve_timezone(policy["timezone"])
        except ValueError:
            return None, []  # reported as the timezone key's problem
    text = setting.value.strip()
    try:
        return plugins.make_trigger(text, timezone=zone, job_name=name), []
    except Exception as error:  # a trigger plugin may raise anything on bad text
        message = str(error) if isinstance(error, ValueError) else f"{error}"
        if text not in message:
            message = f"invalid schedule {text!r}: {message}"
        if not isinstance(error, ValueError) and type(error).__name__ != "PluginError":
            message += f" ({type(error).__name__})"
        return None, [Problem(message, origin=setting.origin, section=section, key="schedule")]

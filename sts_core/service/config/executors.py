"""Executors in a config file: ``[scheduler] executor`` (the default of every job), a
job's own ``executor``, and the section named after an executor (``[rabbitmq]``), whose
keys are the options of its factory, converted to the types it annotates."""

from __future__ import annotations

from typing import Any

from ...executor_spec import parse_executor
from ...plugins import Plugins
from .errors import Problem
from .jobs import job_sections
from .layers import Settings
from .options import convert_options, signature_of


def plan_executors(
    settings: Settings, plugins: Plugins
) -> tuple[str | None, dict[str, dict[str, Any]], list[Problem]]:
    """The default executor, each executor's converted options, and every problem: an
    executor no plugin registers, an option its factory does not take."""
    problems: list[Problem] = []
    registry = plugins.executors
    default = settings.value("scheduler", "executor")
    chosen = [("scheduler", settings.get("scheduler", "executor"))]
    chosen += [(section, settings.get(section, "executor")) for section in job_sections(settings)]
    for section, setting in chosen:
        if setting is None:
            continue
        try:
            name, _ = parse_executor(setting.value)
        except ValueError:
            continue  # reported by the key's own check
        if name not in registry:
            problems.append(
                Problem(
                    registry.missing_message(name),
                    origin=setting.origin,
                    section=section,
                    key="executor",
                )
            )
    options: dict[str, dict[str, Any]] = {}
    for name in registry:
        keys = settings.sections.get(name)
        if not keys:
            continue
        arguments, found = convert_options(
            signature_of(registry.get(name), positional=1),
            name,
            keys,
            what=f"the executor {name!r}",
            section_origin=settings.section_origins.get(name),
        )
        problems += found
        options[name] = arguments
    return (default.strip() if default else None), options, problems

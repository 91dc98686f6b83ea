"""Planning the objects a configuration names from plugin registries (log sinks, secret
providers, the state store): each is looked up and its options converted first, and only
built once the whole configuration is known to be valid, so a bad config creates no file."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...plugins import PluginError, Registry
from ...redaction import redact
from ..logs import parse_level
from .errors import ConfigError, Problem
from .layers import Setting, Settings
from .options import convert_options, signature_of
from .values import parse_boolean, split_list


@dataclass(slots=True)
class FactoryCall:
    """A registered factory and the arguments it will be called with."""

    what: str
    factory: Callable[..., Any]
    section: str
    arguments: dict[str, Any] = field(default_factory=dict)
    positional: tuple[Any, ...] = ()
    origin: str | None = None

    def build(self) -> Any:
        """Call the factory.

        :raises ConfigError: naming what failed and the section of its options.
        """
        try:
            return self.factory(*self.positional, **self.arguments)
        except Exception as error:
            raise ConfigError(
                Problem(
                    f"{self.what} failed to start: {redact(str(error))}",
                    origin=self.origin,
                    section=self.section,
                )
            ) from None


def plan_call(
    registry: Registry[Any],
    name: str,
    settings: Settings,
    *,
    chosen_by: Setting,
    chosen_in: tuple[str, str],
    options_section: str,
    defaults: Mapping[str, Any] | None = None,
    positional: tuple[Any, ...] = (),
) -> tuple[FactoryCall | None, list[Problem]]:
    """Look up ``name`` and convert the options in ``options_section``.

    :param chosen_by: the setting that names it (for the origin of a "not installed").
    :param chosen_in: its section and key.
    :param defaults: arguments given when the factory takes them and the user did not.
    """
    try:
        factory = registry.get(name)
    except PluginError as error:
        section, key = chosen_in
        return None, [Problem(str(error), origin=chosen_by.origin, section=section, key=key)]
    what = f"the {registry.what} {name!r}"
    signature = signature_of(factory, positional=len(positional))
    arguments, problems = convert_options(
        signature,
        options_section,
        settings.sections.get(options_section, {}),
        what=what,
        section_origin=settings.section_origins.get(options_section),
    )
    for key, value in (defaults or {}).items():
        if key not in arguments and key in signature.options:
            arguments[key] = value
    origin = settings.section_origins.get(options_section, chosen_by.origin)
    return FactoryCall(what, factory, options_section, arguments, positional, origin), problems


@dataclass(slots=True)
class LoggingPlan:
    level: int
    sinks: list[FactoryCall]

    def build(self) -> list[logging.Handler]:
        return [sink.build() for sink in self.sinks]


def plan_logging(
    settings: Settings, registry: Registry[Any], scheduler_name: str
) -> tuple[LoggingPlan, list[Problem]]:
    """The sinks ``[logging]`` chooses: ``console``, ``file``, then those in ``sinks``."""
    level = parse_level(settings.value("logging", "level") or "INFO", origin="[logging] level")
    log_format = (settings.value("logging", "format") or "text").strip().lower()
    chosen: list[tuple[str, Setting, str, dict[str, Any]]] = []
    defaults: dict[str, Any] = {"format": log_format, "scheduler_name": scheduler_name}
    console = settings.get("logging", "console")
    if console is not None and parse_boolean(console.value):
        chosen.append(("console", console, "console", defaults))
    log_file = settings.get("logging", "file")
    if log_file is not None:
        try:
            wanted = parse_boolean(log_file.value)
            path = None
        except ValueError:
            wanted, path = True, Path(log_file.value.strip()).expanduser()
        if wanted:
            chosen.append(("file", log_file, "file", {**defaults, "path": path}))
    sinks = settings.get("logging", "sinks")
    for name in split_list(sinks.value) if sinks is not None else []:
        assert sinks is not None
        chosen.append((name, sinks, "sinks", defaults))
    plan = LoggingPlan(level, [])
    problems: list[Problem] = []
    for name, setting, key, sink_defaults in chosen:
        call, found = plan_call(
            registry,
            name,
            settings,
            chosen_by=setting,
            chosen_in=("logging", key),
            options_section=f"logging:{name}",
            defaults=sink_defaults,
        )
        problems += found
        if call is not None:
            plan.sinks.append(call)
    return plan, problems


def plan_secret_providers(
    settings: Settings, registry: Registry[Any]
) -> tuple[list[FactoryCall], list[Problem]]:
    """The providers ``[secrets] providers`` lists, in order, with ``[secrets:NAME]``."""
    setting = settings.get("secrets", "providers")
    names = split_list(setting.value) if setting is not None else []
    calls: list[FactoryCall] = []
    problems: list[Problem] = []
    for name in names:
        assert setting is not None
        call, found = plan_call(
            registry,
            name,
            settings,
            chosen_by=setting,
            chosen_in=("secrets", "providers"),
            options_section=f"secrets:{name}",
        )
        problems += found
        if call is not None:
            calls.append(call)
    return calls, problems


def plan_store(
    settings: Settings, registry: Registry[Any], scheduler_name: str
) -> tuple[FactoryCall | None, list[Problem]]:
    """The store ``[scheduler] state`` names, with the options in ``[state]``."""
    setting = settings.get("scheduler", "state") or Setting("sqlite", "default")
    return plan_call(
        registry,
        setting.value.strip(),
        settings,
        chosen_by=setting,
        chosen_in=("scheduler", "state"),
        options_section="state",
        positional=(scheduler_name,),
    )

"""Config sources from plugins (``sts_register_config_sources``), layered between
``config.ini`` and the environment. ``[scheduler] sources = NAME, ...`` turns them on;
``[source:NAME]`` holds each one's options."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from ...plugins import PluginError, Plugins
from ...redaction import redact
from ..registries import config_sources
from .errors import ConfigError, Problem
from .layers import Layer, Settings
from .options import convert_options, signature_of
from .values import split_list

#: A factory parameter of this name gets the scheduler's name (a source's default key
#: prefix, ``/sts/<name>/``), not an option of ``[source:NAME]``.
SCHEDULER_NAME = "scheduler_name"


def sources_key(settings: Settings) -> tuple[str, str]:
    """Where the config sources are listed: ``[config] sources`` (``STS_CONFIG_SOURCES``),
    else ``[scheduler] sources`` (``STS_SCHEDULER_SOURCES``), the older spelling."""
    return (
        ("config", "sources") if settings.value("config", "sources") else ("scheduler", "sources")
    )


def source_layers(
    settings: Settings, plugins: Plugins, loaded: list[object] | None = None
) -> list[Layer]:
    """Load every source ``settings`` turns on, in the order listed.

    :param loaded: filled with the source objects, in order (a live reload follows the
        ones that can ``watch()``).
    :raises ConfigError: for a source that is not installed, has bad options, fails to
        load, or returns something other than sections of keys.
    """
    where = sources_key(settings)
    chosen = settings.get(*where)
    if chosen is None or not split_list(chosen.value):
        return []
    registry = config_sources(plugins)
    layers = []
    sources = loaded if loaded is not None else []
    for name in split_list(chosen.value):
        try:
            factory = registry.get(name)
        except PluginError as error:
            raise ConfigError(
                Problem(str(error), origin=chosen.origin, section=where[0], key=where[1])
            ) from None
        section = f"source:{name}"
        arguments, problems = convert_options(
            signature_of(factory, skip=(SCHEDULER_NAME,)),
            section,
            settings.sections.get(section, {}),
            what=f"the config source {name!r}",
            section_origin=settings.section_origins.get(section, chosen.origin),
        )
        if problems:
            raise ConfigError(problems)
        if _takes(factory, SCHEDULER_NAME):
            arguments[SCHEDULER_NAME] = (settings.value("scheduler", "name") or "sts").strip()
        layers.append(_load(name, factory, arguments, sources))
    return layers


def _takes(factory: Any, parameter: str) -> bool:
    try:
        return parameter in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def _load(name: str, factory: Any, arguments: dict[str, Any], sources: list[object]) -> Layer:
    try:
        source = factory(**arguments)
        sources.append(source)
        loaded = source.load()
    except ConfigError:
        raise  # a source that names the key and revision of a bad value itself
    except Exception as error:
        raise ConfigError(
            Problem(
                f"the config source {name!r} failed to load: {redact(str(error))}",
                section=f"source:{name}",
            )
        ) from None
    origin = str(getattr(source, "origin", None) or f"config source {name}")
    if not isinstance(loaded, Mapping) or not all(
        isinstance(keys, Mapping) for keys in loaded.values()
    ):
        raise ConfigError(
            Problem(
                f"the config source {name!r} returned {type(loaded).__name__}: expected a "
                f"dict of sections, each a dict of keys to values",
                origin=origin,
            )
        )
    return Layer.from_mapping(origin, loaded)

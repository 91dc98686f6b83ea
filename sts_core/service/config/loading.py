"""``load_config``: find the file, read every layer, merge them, check them."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ...plugins import default_plugins
from .discovery import find_config_file, is_named
from .environment import environment_layer
from .errors import ConfigError
from .ini_reuse import parse_ini_again
from .inifile import read_ini, truncated_value_warnings
from .layers import Layer, Settings
from .model import Config
from .plaintext import plain_text_secret_warnings
from .schema import SECTIONS, check_sections, defaults_layer
from .sources import source_layers, sources_key

if TYPE_CHECKING:
    from ...plugins import Plugins

logger = logging.getLogger("sts.config")

COMMAND_LINE = "command line"


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    environ: Mapping[str, str] | None = None,
    plugins: Plugins | None = None,
) -> Config:
    """The effective configuration. Layers, later wins: built-in defaults < the config file
    < config sources from plugins < the environment < ``overrides`` (command-line flags).

    :param path: the config file (``--config``); else ``STS_CONFIG``, ``./sts.ini``, then
        ``<user config dir>/sts/config.ini``; none is fine (defaults only).
    :param overrides: section -> key -> value, shown as coming from the command line.
    :param environ: the environment to read (``os.environ`` by default).
    :param plugins: for config sources and, later, every registry; the process's plugins
        by default, loaded only when needed.
    :raises ConfigError: naming the file, line, section and key of every problem.
    """
    config = read_config(path, overrides=overrides, environ=environ, plugins=plugins)
    if config.section_problems:
        raise ConfigError(config.section_problems)
    return config


def read_config(
    path: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    environ: Mapping[str, str] | None = None,
    plugins: Plugins | None = None,
) -> Config:
    """Like :func:`load_config`, but the problems of the fixed sections (a typo in
    ``[scheduler]``) are kept in ``Config.section_problems`` instead of raised, so that
    ``sts check`` reports them together with those of the jobs.

    :raises ConfigError: when the file cannot be found or read as INI at all.
    """
    environment = os.environ if environ is None else environ
    found = find_config_file(path, environment)
    # Sections whose text did not change since the last read are not parsed again: a
    # reload of 10,000 jobs where one changed parses one section.
    file_layer = read_ini(found, parse_ini_again) if found is not None else None
    skipped = None
    if found is not None and file_layer is not None and not is_named(path, environment):
        skipped = _other_schedulers_file(found, file_layer, overrides)
        if skipped is not None:
            found, file_layer = None, None
    early = [defaults_layer(), *([file_layer] if file_layer else [])]
    late = [environment_layer(environment)]
    if overrides:
        late.append(Layer.from_mapping(COMMAND_LINE, overrides))

    def plugin_sections() -> set[str]:
        nonlocal plugins
        if plugins is None:
            plugins = default_plugins()
        return {*plugins.notifiers, *plugins.task_types, *plugins.executors}

    # Which config sources are on is known from every other layer; they sit in between.
    settings = _merge([*early, *late])
    sources: list[Layer] = []
    source_objects: list[object] = []
    problems = check_sections(settings, plugin_sections)
    if settings.value(*sources_key(settings)) and not problems:
        if plugins is None:
            plugins = default_plugins()
        sources = source_layers(settings, plugins, source_objects)
        settings = _merge([*early, *sources, *late])
        problems = check_sections(settings, plugin_sections)
    warnings: list[str] = [skipped] if skipped is not None else []
    if found is not None and file_layer is not None:
        warnings += plain_text_secret_warnings(found, file_layer)
        warnings += truncated_value_warnings(found)
    for warning in warnings:
        logger.warning("%s", warning)
    config = Config(found, settings, plugins=plugins, warnings=warnings, section_problems=problems)
    config.sources = source_objects
    # How to read it again, for a live reload: the same file, overrides and plugins.
    config.reread = functools.partial(
        read_config, path, overrides=overrides, environ=environ, plugins=config.plugins
    )
    return config


def _other_schedulers_file(
    found: Path, file_layer: Layer, overrides: Mapping[str, Mapping[str, str]] | None
) -> str | None:
    """Why a file found by looking (not named) is not read: ``--name`` asks for another
    scheduler than the one it configures. Mixing its jobs into that scheduler's would show
    jobs it does not have (``sts jobs --name demo`` beside a project's ``sts.ini``)."""
    wanted = ((overrides or {}).get("scheduler") or {}).get("name")
    if not wanted:
        return None
    configured = file_layer.settings.get("scheduler", {}).get("name")
    own = (
        configured.value.strip()
        if configured is not None
        else SECTIONS["scheduler"]["name"].default
    )
    if own == wanted.strip():
        return None
    return (
        f"{found} configures the scheduler {own!r}, not {wanted.strip()!r}: not read "
        f"(name it with --config to use it for {wanted.strip()!r})"
    )


def _merge(layers: list[Layer]) -> Settings:
    settings = Settings()
    for layer in layers:
        settings.add(layer)
    return settings

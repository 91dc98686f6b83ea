"""What plugins registered through the service's hooks (``service/hookspecs.py``),
collected by the engine's :class:`~sts_core.plugins.Plugins` like its own registries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..plugins import Plugins, Registry


@dataclass(frozen=True, slots=True)
class Command:
    """An ``sts`` subcommand registered by a plugin (``sts_register_commands``)."""

    name: str
    configure: Callable[[Any], None]
    handler: Callable[[Any], int]
    help: str = ""
    attach: Callable[[Any], int] | None = None
    """Runs a scheduler with this front end in one process: ``sts run --NAME``."""


def config_sources(plugins: Plugins) -> Registry[Callable[..., Any]]:
    return plugins.registry("sts_register_config_sources", "config source")


def log_sinks(plugins: Plugins) -> Registry[Callable[..., Any]]:
    return plugins.registry("sts_register_log_sinks", "log sink")


def secret_providers(plugins: Plugins) -> Registry[Callable[..., Any]]:
    return plugins.registry("sts_register_secret_providers", "secret provider")


def commands(plugins: Plugins) -> Registry[Command]:
    return plugins.registry("sts_register_commands", "command", Command)

"""``sts plugins``: installed plugins, their distributions, and what each registers."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import pluggy

from ..registries import commands, config_sources, log_sinks, secret_providers
from .errors import OK

if TYPE_CHECKING:
    from ...plugins import Plugins, Registry


def _registries(plugins: Plugins) -> list[tuple[str, Registry[Any]]]:
    """Every registry, as ``sts plugins`` names it, in the order it lists them."""
    return [
        ("triggers", plugins.triggers),
        ("task types", plugins.task_types),
        ("state stores", plugins.state_stores),
        ("notifiers", plugins.notifiers),
        ("executors", plugins.executors),
        ("log sinks", log_sinks(plugins)),
        ("config sources", config_sources(plugins)),
        ("secret providers", secret_providers(plugins)),
        ("commands", commands(plugins)),
    ]


def show_plugins(args: argparse.Namespace) -> int:
    from ... import __version__
    from ...plugins import default_plugins

    plugins = default_plugins()
    registered: dict[str, dict[str, list[str]]] = {}
    registries = _registries(plugins)
    for label, registry in registries:
        for registration in registry.items():
            registered.setdefault(registration.plugin, {}).setdefault(label, []).append(
                registration.name
            )
    for index, (name, info) in enumerate(plugins.infos.items()):
        if index:
            print()
        if info.distribution is None:
            origin = f"built in (sts {__version__})" if name.startswith("sts_core.") else "module"
        else:
            origin = f"{info.distribution} {info.version or ''}".strip()
        print(f"{name}  [{origin}]")
        things = registered.get(name, {})
        for label, _ in registries:
            if label in things:
                print(f"  {label}: {', '.join(things[label])}")
        hooks = _lifecycle_hooks(plugins.manager, name)
        if hooks:
            print(f"  hooks: {', '.join(hooks)}")
        if not things and not hooks:
            print("  registers nothing")
    return OK


def _lifecycle_hooks(manager: pluggy.PluginManager, name: str) -> list[str]:
    """The hooks a plugin implements other than the registration ones."""
    callers = manager.get_hookcallers(manager.get_plugin(name)) or []
    return sorted(caller.name for caller in callers if not caller.name.startswith("sts_register_"))

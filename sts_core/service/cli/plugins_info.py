"""``sts plugins``: installed plugins, their distributions, and what each registers."""

from __future__ import annotations

import argparse

import pluggy

from .errors import OK

#: Registry kinds as ``sts plugins`` names them, in the order it lists them.
KINDS = (
    ("triggers", "triggers"),
    ("task_types", "task types"),
    ("state_stores", "state stores"),
    ("log_sinks", "log sinks"),
    ("config_sources", "config sources"),
    ("secret_providers", "secret providers"),
    ("commands", "commands"),
)


def show_plugins(args: argparse.Namespace) -> int:
    from ... import __version__
    from ...plugins import default_plugins

    plugins = default_plugins()
    registered: dict[str, dict[str, list[str]]] = {}
    for kind, label in KINDS:
        for registration in plugins.registry(kind).items():
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
        for _, label in KINDS:
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

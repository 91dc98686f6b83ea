"""Loading plugins and collecting what they register.

Load order, as in pytest: the hook specifications, the built-in plugins (registered
exactly like external ones), the entry points of group ``sts`` (unless
``STS_DISABLE_PLUGIN_AUTOLOAD`` is set; ``STS_LOAD_PLUGINS=a,b`` loads only those), then
``STS_DISABLE_PLUGINS=a,b`` blocks plugins by name. A plugin that fails to import is
reported by name on stderr and skipped.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from importlib import metadata
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pluggy

from .markers import PROJECT
from .suggest import did_you_mean

if TYPE_CHECKING:
    from .triggers import Trigger

#: The built-in plugins, registered before any entry point: the engine's, then the
#: service's; and the hook specifications of both. Named, not imported, so that the engine
#: does not depend on the service.
BUILTIN_PLUGINS = ("sts_core.builtin", "sts_core.service.builtin")
HOOKSPEC_MODULES = ("sts_core.hookspecs", "sts_core.service.hookspecs")
ENTRY_POINT_GROUP = PROJECT

T = TypeVar("T")


class PluginError(Exception):
    """A plugin registered something invalid, or a needed plugin is missing."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A loaded plugin: its name and the distribution it came from."""

    name: str
    distribution: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Registration(Generic[T]):
    name: str
    value: T
    plugin: str


class Registry(Generic[T]):
    """What one registration hook collected: names to things, and who registered each."""

    def __init__(self, what: str, entries: dict[str, Registration[T]]) -> None:
        self.what = what
        self._entries = entries

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str, *, needed_by: str = "") -> T:
        """The thing registered as ``name``.

        :raises PluginError: naming what is missing and what is installed, with a hint
            for the well-known plugins.
        """
        try:
            return self._entries[name].value
        except KeyError:
            raise PluginError(self.missing_message(name, needed_by)) from None

    def plugin_of(self, name: str) -> str:
        return self._entries[name].plugin

    def items(self) -> list[Registration[T]]:
        return list(self._entries.values())

    def missing_message(self, name: str, needed_by: str = "") -> str:
        available = ", ".join(sorted(self._entries)) or "none"
        where = f" (needed by {needed_by})" if needed_by else ""
        maybe = did_you_mean(name, self._entries)
        message = f"no {self.what} {name!r} is installed{where}{maybe}; installed: {available}"
        known = KNOWN_PLUGINS.get((self.what, name))
        if known:
            message += ". " + install_hint(known)
        return message


def install_hint(distribution: str) -> str:
    """How to install a plugin of this repository: from a checkout today, by name once
    it is published (the extra of the core distribution names it)."""
    extra = distribution.removeprefix("sts-")
    return (
        f"Install the plugin {distribution!r}: from a checkout of STS, "
        f"pip install ./plugins/{distribution}; once published, "
        f"pip install 'sts-scheduler[{extra}]'"
    )


#: Which distribution provides a well-known name, for "pip install" hints.
KNOWN_PLUGINS = {
    ("trigger kind", "cron"): "sts-cron",
    ("task type", "shell"): "sts-shell",
    ("command", "tui"): "sts-tui",
    ("notifier scheme", "email"): "sts-email",
    ("notifier scheme", "webhook"): "sts-webhook",
    ("executor", "rabbitmq"): "sts-rabbitmq",
}


#: A hook's implementation, ready to call: its function, its arguments' names, its plugin.
Implementation = tuple[Callable[..., Any], tuple[str, ...], str]


def _single(name: str, value: Any) -> Any:
    return value


class Plugins:
    """A plugin manager and the registries built from it.

    Registries and hook implementations are collected on first use and again after a
    plugin is registered or unregistered, so a test can add a plugin and see its
    registrations. Register and unregister through this object, not through
    ``.manager``: a change made there directly is not seen until the next one made here.
    """

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self.hook = manager.hook
        self.infos: dict[str, PluginInfo] = {}
        self._registries: dict[tuple[str, str, Callable[..., Any]], Registry[Any]] = {}
        self._implementations: dict[str, tuple[Implementation, ...] | None] = {}

    # -- registration -----------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin (a module or an object with hook implementations).

        :raises PluginError: when it is registered already, or its name is taken.
        """
        try:
            registered = self.manager.register(plugin, name=name)
        except ValueError:  # pluggy's: the object, or the name, is registered already
            raise PluginError(self._clash(plugin, name)) from None
        finally:
            # Also when pluggy refused the plugin half-way (a bad hook implementation is
            # found after others of the plugin were added).
            self._forget_collected()
        if registered is None:
            raise PluginError(f"the plugin {name or plugin!r} is blocked or already registered")
        self.infos.setdefault(registered, PluginInfo(registered))
        return registered

    def _clash(self, plugin: object, name: str | None) -> str:
        label = name or getattr(plugin, "__name__", None) or repr(plugin)
        if self.manager.is_registered(plugin):
            return (
                f"the plugin {label!r} is registered already, as "
                f"{self.manager.get_name(plugin)!r} (an installed plugin is loaded from its "
                f"entry point): use it as it is, or unregister that name first"
            )
        return (
            f"cannot register the plugin {label!r}: another plugin has that name "
            f"({self.manager.get_plugin(label)!r}); pass another name"
        )

    def unregister(self, name: str) -> None:
        try:
            self.manager.unregister(name=name)
        finally:
            self._forget_collected()
        self.infos.pop(name, None)

    def _forget_collected(self) -> None:
        # New dicts, not cleared ones: a lookup that ran across this (in another thread)
        # stores what it found in the dict it started with, which nobody reads any more.
        self._registries = {}
        self._implementations = {}

    # -- registries -------------------------------------------------------------------------

    def registry(
        self, hook_name: str, what: str, build: Callable[..., Any] = _single
    ) -> Registry[Any]:
        """What the registration hook ``hook_name`` collected (``what``: its things, in
        messages); ``build(name, *args, **kwargs)`` makes an entry of a ``register`` call."""
        key, cache = (hook_name, what, build), self._registries
        cached = cache.get(key)
        if cached is None:
            cached = cache[key] = self._collect(hook_name, what, build)
        return cached

    @property
    def triggers(self) -> Registry[Callable[..., Any]]:
        return self.registry("sts_register_triggers", "trigger kind")

    @property
    def task_types(self) -> Registry[type]:
        return self.registry("sts_register_task_types", "task type")

    @property
    def state_stores(self) -> Registry[Callable[..., Any]]:
        return self.registry("sts_register_state_stores", "state store")

    @property
    def notifiers(self) -> Registry[Callable[..., Any]]:
        return self.registry("sts_register_notifiers", "notifier scheme")

    @property
    def executors(self) -> Registry[Callable[..., Any]]:
        return self.registry("sts_register_executors", "executor")

    def make_trigger(
        self, trigger: object, *, timezone: tzinfo | None = None, job_name: str = ""
    ) -> Trigger:
        """A trigger from ``"<kind> <spec>"`` text (made by the trigger kind's plugin), a
        trigger object (returned as is), or a function ``f(after) -> datetime | None``.

        :param timezone: the zone of calendar specs; the machine's by default.
        :param job_name: the job the trigger is for (some kinds use it, e.g. for jitter).
        :raises ValueError: for text that names no kind or a bad spec.
        :raises PluginError: for a kind no installed plugin provides.
        """
        if hasattr(trigger, "next_fire_time"):  # first: what every add from Python passes
            return trigger
        # Imported here, not at the top: `sts --help` loads the plugins, not the triggers.
        from .timezones import resolve_timezone
        from .triggers import FunctionTrigger

        if isinstance(trigger, str):
            kind, _, spec = trigger.strip().partition(" ")
            registry = self.triggers
            if kind not in registry:
                if ("trigger kind", kind) in KNOWN_PLUGINS:
                    raise PluginError(registry.missing_message(kind))
                raise ValueError(
                    f"invalid schedule {trigger!r}: unknown kind {kind!r}"
                    f"{did_you_mean(kind, registry)}: expected '<kind> <spec>' with kind one "
                    f"of {', '.join(sorted(registry))}, e.g. 'every 10s'"
                )
            factory = registry.get(kind)
            zone = timezone or resolve_timezone(None)
            try:
                made: Trigger = factory(spec.strip(), timezone=zone, job_name=job_name)
            except ValueError as error:
                raise ValueError(f"invalid schedule {trigger!r}: {error}") from None
            return made
        if callable(trigger):
            return FunctionTrigger(trigger)
        raise TypeError(
            f"invalid trigger {trigger!r}: expected a trigger object, a function "
            f"f(after) -> datetime | None, or text like 'every 10s'"
        )

    def _collect(self, hook_name: str, what: str, build: Callable[..., Any]) -> Registry[Any]:
        entries: dict[str, Registration[Any]] = {}
        hook = getattr(self.hook, hook_name)
        # Call each implementation on its own, so a duplicate can name both plugins.
        for impl in reversed(hook.get_hookimpls()):
            plugin_name = impl.plugin_name

            def register(name: str, *args: Any, _plugin: str = plugin_name, **kwargs: Any) -> None:
                if not isinstance(name, str) or not name:
                    raise PluginError(
                        f"plugin {_plugin!r} registered a {what} with an invalid name {name!r}"
                    )
                if name in entries:
                    raise PluginError(
                        f"the {what} {name!r} is registered twice: by plugin "
                        f"{entries[name].plugin!r} and by plugin {_plugin!r}"
                    )
                try:
                    value = build(name, *args, **kwargs)
                except TypeError as error:
                    raise PluginError(
                        f"plugin {_plugin!r} registered the {what} {name!r} wrongly: {error}"
                    ) from None
                entries[name] = Registration(name, value, _plugin)

            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except PluginError:
                raise
            except Exception as error:
                print(
                    f'sts: plugin "{plugin_name}" failed in {hook_name}: {error!r}; skipped',
                    file=sys.stderr,
                )
        return Registry(what, entries)

    def implementations(self, hook_name: str) -> tuple[Implementation, ...] | None:
        """A hook's implementations in the order pluggy calls them, looked up once (until a
        plugin is registered or unregistered through this object), for hot paths that call
        each one themselves with the hook's arguments by name. ``None`` when only pluggy
        can call the hook right: a historic or first-result hook, or one with a wrapper. An
        implementation with a defaulted argument is called through pluggy on its own, so
        the argument is filled as the installed pluggy fills it."""
        cache = self._implementations
        try:
            return cache[hook_name]
        except KeyError:
            pass
        caller = getattr(self.hook, hook_name)
        impls = caller.get_hookimpls()
        options = caller.spec.opts if caller.spec is not None else {}
        found: tuple[Implementation, ...] | None = None
        if not (
            caller.is_historic()
            or options.get("firstresult")
            or any(impl.hookwrapper or impl.wrapper for impl in impls)
        ):
            found = tuple(self._implementation(hook_name, impl) for impl in impls[::-1])
        cache[hook_name] = found
        return found

    def _implementation(self, hook_name: str, impl: Any) -> Implementation:
        if not impl.kwargnames:
            return (impl.function, tuple(impl.argnames), impl.plugin_name)
        others = [plugin for plugin in self.manager.get_plugins() if plugin is not impl.plugin]
        alone = self.manager.subset_hook_caller(hook_name, remove_plugins=others)
        argnames = tuple(alone.spec.argnames if alone.spec is not None else impl.argnames)

        def through_pluggy(*args: Any) -> None:
            alone(**dict(zip(argnames, args, strict=True)))

        return (through_pluggy, argnames, impl.plugin_name)

    def call(
        self,
        hook_name: str,
        /,
        on_error: Callable[[str, str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """Call a hook whose results nobody reads, in pluggy's order, without pluggy's
        microseconds a call: for hooks called for every job or run. Unlike a pluggy call,
        it is not seen by pluggy's tracing (``enable_tracing``,
        ``add_hookcall_monitoring``).

        :param on_error: ``None``: the first exception stops the call and propagates, as
            in pluggy. Else each implementation is called on its own, and one that raises
            is reported, from inside the ``except`` block, as ``on_error(hook_name,
            plugin_name)`` (``plugin_name`` empty where only pluggy could call the hook).
        """
        each = self.implementations(hook_name)
        if each is None:  # one call through pluggy, failing as no one plugin
            each = ((functools.partial(getattr(self.hook, hook_name), **kwargs), (), ""),)
        for function, argnames, plugin_name in each:
            try:
                function(*arguments(argnames, kwargs))
            except Exception:
                if on_error is None:
                    raise
                on_error(hook_name, plugin_name)


def arguments(argnames: tuple[str, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """A hook implementation's arguments, in order, from a call's keyword arguments.

    :raises pluggy.HookCallError: for one the call does not give, as pluggy says it.
    """
    try:
        return tuple(map(kwargs.__getitem__, argnames))
    except KeyError as missing:
        raise pluggy.HookCallError(f"hook call must provide argument {missing.args[0]!r}") from None


def hook_names() -> list[str]:
    """The name of every hook specified, the engine's then the service's, each module's in
    the order they are defined (``docs/plugins.md`` documents them all; a test checks)."""
    names: list[str] = []
    for module_name in HOOKSPEC_MODULES:
        module = importlib.import_module(module_name)
        names += [
            name
            for name, value in vars(module).items()
            if name.startswith("sts_") and callable(value)
        ]
    return names


def _names(variable: str) -> list[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def report_plugin_error(name: str, error: BaseException) -> None:
    print(f'sts: error importing plugin "{name}": {error!r}; skipped', file=sys.stderr)


class _Manager(pluggy.PluginManager):
    """pluggy's manager, looking only at ``sts_*`` names for hook implementations (as
    pytest's looks at ``pytest_*``): pluggy before 1.7 reads every name in ``dir(plugin)``
    with ``getattr``, which would import what a plugin exports lazily (its store, its
    client library) as the plugin loads."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        if not name.startswith(f"{PROJECT}_"):
            return None
        return super().parse_hookimpl_opts(plugin, name)


def create_plugins(*, load_entry_points: bool = True) -> Plugins:
    """A fresh plugin manager: hook specs, built-in plugins, then installed plugins."""
    manager = _Manager(PROJECT)
    for module_name in HOOKSPEC_MODULES:
        manager.add_hookspecs(importlib.import_module(module_name))
    plugins = Plugins(manager)
    for blocked in _names("STS_DISABLE_PLUGINS") or []:
        manager.set_blocked(blocked)
    for module_name in BUILTIN_PLUGINS:
        plugins.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        _load_entry_points(plugins)
    return plugins


def _load_entry_points(plugins: Plugins) -> None:
    only = _names("STS_LOAD_PLUGINS")
    if os.environ.get("STS_DISABLE_PLUGIN_AUTOLOAD") and only is None:
        return
    seen: set[str] = set()
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in seen or (only is not None and entry_point.name not in only):
            continue
        seen.add(entry_point.name)
        if plugins.manager.is_blocked(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
            plugins.register(plugin, name=entry_point.name)
        except Exception as error:
            report_plugin_error(entry_point.name, error)
            continue
        distribution = entry_point.dist
        plugins.infos[entry_point.name] = PluginInfo(
            entry_point.name,
            distribution.name if distribution else None,
            distribution.version if distribution else None,
        )
    # Names in STS_LOAD_PLUGINS that are no entry point are module paths, as in pytest.
    for module_name in only or []:
        if module_name in seen or plugins.manager.is_blocked(module_name):
            continue
        try:
            plugins.register(importlib.import_module(module_name), name=module_name)
        except Exception as error:
            report_plugin_error(module_name, error)


_default: Plugins | None = None


def default_plugins() -> Plugins:
    """The process-wide plugins, loaded on first use."""
    global _default
    if _default is None:
        _default = create_plugins()
    return _default

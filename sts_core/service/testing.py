"""``sts.testing``: a pytest plugin for STS and its plugin authors, opt-in
(``pytest_plugins = ["sts.testing"]`` or ``-p sts.testing``).

Fixtures:

- ``virtual_clock``: a :class:`VirtualClock` starting 2026-01-01 00:00 UTC; run code on it
  with ``virtual_clock.run(main())``.
- ``sts_plugins``: a fresh plugin manager (built-ins and installed plugins) for one test.
- ``register_plugin``: ``register_plugin(obj)`` registers a plugin on the process-wide
  plugin manager for one test and unregisters it afterwards.

In a session that enabled the plugin, each test gets its own user data directory
(``XDG_DATA_HOME``: state databases, process-group records), and after each test STS's
process-wide state (log handlers, secret providers, remembered secret values) is reset. And
``require(available, reason)``: skip a test whose service is missing, or fail it in CI.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

import pytest

from ..plugins import Plugins, create_plugins, default_plugins
from ..redaction import forget_revealed
from ..virtual_time import VirtualClock, VirtualEventLoop
from .logsinks import install_sinks
from .secrets import use_secret_providers


def require(available: bool, reason: str) -> None:
    """Skip the calling test when ``available`` is false, with ``reason`` — but fail it when
    ``CI=true``: CI must have every service, and a skip there would hide a broken set-up."""
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: every service a test needs must be there)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _sts_process_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Give each test its own user data directory (``XDG_DATA_HOME``, inherited by the
    processes it starts), so that no test writes or reaps the user's real state databases
    and process-group records; and undo STS's process-wide state after each test: the log
    handlers and level STS set on the ``sts`` logger, the secret providers, and the secret
    values it redacts."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
    yield
    install_sinks([], logging.NOTSET)
    logging.getLogger("sts").propagate = True
    use_secret_providers(None)
    forget_revealed()


@pytest.fixture
def virtual_clock() -> VirtualClock:
    """A virtual clock at 2026-01-01T00:00:00Z."""
    return VirtualClock()


@pytest.fixture
def sts_plugins() -> Plugins:
    """A fresh plugin manager: hook specs, built-in plugins and installed plugins."""
    return create_plugins()


class PluginRegistrations:
    """What ``register_plugin`` registered, to undo it: a plugin that was there already
    (installed, so loaded from its entry point) is used as it is and left in place."""

    def __init__(self, plugins: Plugins) -> None:
        self.plugins = plugins
        self.names: list[str] = []

    def register(self, plugin: object, name: str | None = None) -> str:
        manager = self.plugins.manager
        if manager.is_registered(plugin) and name in (None, manager.get_name(plugin)):
            return str(manager.get_name(plugin))  # installed: the test uses that one
        registered = self.plugins.register(plugin, name=name)
        self.names.append(registered)
        return registered

    def undo(self) -> None:
        for name in reversed(self.names):
            self.plugins.unregister(name)
        self.names.clear()


@pytest.fixture
def register_plugin() -> Iterator[Callable[..., str]]:
    """Register plugins on the process-wide manager; each is unregistered after the test.
    A plugin that is installed (registered already) is used as it is, and stays."""
    registrations = PluginRegistrations(default_plugins())
    yield registrations.register
    registrations.undo()


__all__ = [
    "VirtualClock",
    "VirtualEventLoop",
    "register_plugin",
    "require",
    "sts_plugins",
    "virtual_clock",
]

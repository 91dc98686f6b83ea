"""``register_plugin`` (sts.testing) with a plugin that is installed, as the example in
docs/plugins.md is once its author installs the plugin; a clear error for a name clash."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sts_cron

import sts
from sts_core.plugins import default_plugins
from sts_core.service.testing import PluginRegistrations


def test_an_installed_plugin_is_used_as_it_is(register_plugin: Callable[..., str]) -> None:
    assert default_plugins().manager.is_registered(sts_cron)  # from its entry point
    assert register_plugin(sts_cron) == "cron"
    assert "cron" in sts.TaskScheduler().plugins.triggers


def test_undo_leaves_an_installed_plugin_in_place() -> None:
    plugins = default_plugins()
    registrations = PluginRegistrations(plugins)
    registrations.register(sts_cron)
    registrations.undo()
    assert plugins.manager.is_registered(sts_cron)


def test_a_new_plugin_is_registered_and_removed_after() -> None:
    plugins = default_plugins()
    registrations = PluginRegistrations(plugins)

    class Probe:
        @sts.hookimpl
        def sts_register_triggers(self, register: Callable[..., None]) -> None:
            register("fh-probe", lambda spec, **_: None)

    probe = Probe()
    name = registrations.register(probe)
    assert plugins.manager.is_registered(probe)
    registrations.undo()
    assert not plugins.manager.is_registered(probe) and plugins.manager.get_plugin(name) is None


def test_a_name_clash_is_a_clear_error(register_plugin: Callable[..., str]) -> None:
    class Other:
        pass

    with pytest.raises(sts.PluginError, match=r"another plugin has that name .*pass another name"):
        register_plugin(Other(), name="cron")
    with pytest.raises(sts.PluginError, match=r"registered already, as 'cron'"):
        default_plugins().register(sts_cron, name="cron-again")

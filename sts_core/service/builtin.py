"""The service's built-in plugin: the SQLite store, the log sinks and the secret
providers a config file chooses by name. Registered right after the engine's
(``sts_core.builtin``), exactly like an installed plugin.

What it registers is imported when a registry is first collected, not when the plugin
loads: ``sts --help`` loads every plugin, and must not pay for SQLite.
"""

from __future__ import annotations

from ..hookspecs import Register
from ..plugins import hookimpl


@hookimpl
def sts_register_state_stores(register: Register) -> None:
    from .sqlite_store import open_sqlite_store

    register("sqlite", open_sqlite_store)


@hookimpl
def sts_register_log_sinks(register: Register) -> None:
    from .logsinks import console_sink, file_sink, json_sink

    register("console", console_sink)
    register("file", file_sink)
    register("json", json_sink)


@hookimpl
def sts_register_secret_providers(register: Register) -> None:
    from ..secrets import DirectorySecrets, EnvironmentSecrets

    register("env", EnvironmentSecrets)
    register("files", DirectorySecrets)

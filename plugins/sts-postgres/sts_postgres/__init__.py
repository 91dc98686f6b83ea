"""sts-postgres: a state store in PostgreSQL that several scheduler replicas share, each
fire claimed and run once.

Registers the state store ``postgres`` (``[scheduler] state = postgres`` with ``[state]
dsn = ...``; from Python, ``TaskScheduler(store=PostgresStore(dsn))``) and the command
``sts db`` (``status``, ``upgrade``). See docs/plugins/postgres.md.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sts

if TYPE_CHECKING:
    from .factory import open_postgres_store
    from .store import PostgresStore, StateStoreError

__all__ = ["PostgresStore", "StateStoreError", "open_postgres_store"]

# Imported on use: loading the plugin (as `sts --help` does) must not import psycopg.
_LAZY = {
    "PostgresStore": ".store",
    "StateStoreError": ".store",
    "open_postgres_store": ".factory",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sts_postgres' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


@sts.hookimpl
def sts_register_state_stores(register: Callable[..., None]) -> None:
    from .factory import open_postgres_store

    register("postgres", open_postgres_store)


@sts.hookimpl
def sts_register_commands(register: Callable[..., None]) -> None:
    from .command import configure, handler

    register("db", configure, handler, help="the PostgreSQL state store's schema: status, upgrade")

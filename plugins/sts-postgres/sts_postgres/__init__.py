"""sts-postgres: a state store in PostgreSQL that several scheduler replicas share, each
fire claimed and run once.

Registers the state store ``postgres`` (``[scheduler] state = postgres`` with ``[state]
dsn = ...``; from Python, ``TaskScheduler(store=PostgresStore(dsn))``) and the command
``sts db`` (``status``, ``upgrade``). See docs/plugins/postgres.md.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
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


@sts.hookimpl
def sts_scheduler_lifespan(
    scheduler: sts.TaskScheduler,
) -> AbstractAsyncContextManager[None] | None:
    """Around a scheduler whose store is a ``PostgresStore``: follow the group's pauses."""
    # Looked up, not imported: a process that never made a PostgresStore has none to
    # follow, and must not pay for importing psycopg here.
    store_module = sys.modules.get(f"{__name__}.store")
    if store_module is None or not isinstance(scheduler.store, store_module.PostgresStore):
        return None
    from .pause_sync import follow_group_pauses

    return follow_group_pauses(scheduler, scheduler.store)

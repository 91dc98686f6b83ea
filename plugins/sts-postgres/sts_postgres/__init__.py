"""sts-postgres: a state store in PostgreSQL that several scheduler replicas share, each
fire claimed and run once.

Registers the state store ``postgres`` (``[scheduler] state = postgres`` with ``[state]
dsn = ...``; from Python, ``TaskScheduler(store=PostgresStore(dsn))``) and the command
``sts db`` (``status``, ``upgrade``). See docs/plugins/postgres.md.
"""

from __future__ import annotations

import sys
import typing
from contextlib import AbstractAsyncContextManager

import sts

if typing.TYPE_CHECKING:
    from .factory import open_postgres_store as open_postgres_store
    from .store import PostgresStore as PostgresStore
    from .store import StateStoreError as StateStoreError

# Imported on use: loading the plugin (as `sts --help` does) must not import psycopg.
_API = {
    "PostgresStore": ".store",
    "StateStoreError": ".store",
    "open_postgres_store": ".factory",
}


@sts.hookimpl
def sts_register_state_stores(register: sts.RegisterStateStore) -> None:
    from .factory import open_postgres_store

    register("postgres", open_postgres_store)


@sts.hookimpl
def sts_register_commands(register: sts.RegisterCommand) -> None:
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


__all__, __getattr__, __dir__ = sts.lazy_exports(
    __name__,
    _API,
    eager=["sts_register_state_stores", "sts_register_commands", "sts_scheduler_lifespan"],
)
del typing

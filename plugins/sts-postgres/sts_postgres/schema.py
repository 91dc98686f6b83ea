"""Versioned schema migrations: applied at start (``auto_migrate``), or by an operator
with ``sts db upgrade``. Each migration runs in its own transaction under an advisory
lock, so replicas that start together apply it once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from . import sql


class SchemaError(Exception):
    """The database's schema is missing, newer than this plugin, or cannot be changed."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: int
    latest: int

    @property
    def pending(self) -> list[tuple[int, str]]:
        return [(version, text) for version, text, _ in sql.MIGRATIONS if version > self.current]


async def schema_status(connection: psycopg.AsyncConnection[Any]) -> SchemaStatus:
    """The version applied (0 for none) and the latest this plugin knows; writes nothing."""
    cursor = await connection.execute(sql.VERSION_TABLE_EXISTS)
    row = await cursor.fetchone()
    current = 0
    if row is not None and row[0]:
        cursor = await connection.execute(sql.CURRENT_VERSION)
        found = await cursor.fetchone()
        current = int(found[0]) if found is not None else 0
    return SchemaStatus(current, sql.LATEST_VERSION)


async def upgrade(connection: psycopg.AsyncConnection[Any]) -> list[int]:
    """Apply the migrations the database lacks; return the versions applied.

    :raises SchemaError: when the database is newer than this plugin.
    """
    applied: list[int] = []
    async with connection.transaction():
        await connection.execute(sql.LOCK_MIGRATIONS)
        await connection.execute(sql.CREATE_VERSION_TABLE)
    for version, description, statements in sql.MIGRATIONS:
        async with connection.transaction():
            await connection.execute(sql.LOCK_MIGRATIONS)
            cursor = await connection.execute(sql.CURRENT_VERSION)
            row = await cursor.fetchone()
            current = int(row[0]) if row is not None else 0
            if current > sql.LATEST_VERSION:
                raise SchemaError(
                    f"the database has STS schema version {current}, newer than this "
                    f"sts-postgres understands ({sql.LATEST_VERSION}): upgrade sts-postgres"
                )
            if version <= current:
                continue
            await connection.execute(statements.encode())
            await connection.execute(sql.RECORD_VERSION, (version, description))
            applied.append(version)
    return applied


async def check_current(connection: psycopg.AsyncConnection[Any]) -> None:
    """Refuse a database whose schema is missing migrations or is newer than this plugin.

    :raises SchemaError: saying what to run.
    """
    status = await schema_status(connection)
    if status.current > status.latest:
        raise SchemaError(
            f"the database has STS schema version {status.current}, newer than this "
            f"sts-postgres understands ({status.latest}): upgrade sts-postgres"
        )
    if status.current < status.latest:
        raise SchemaError(
            f"the database's STS schema is at version {status.current}, this sts-postgres "
            f"needs {status.latest}: run `sts db upgrade` (or set [state] auto_migrate = true)"
        )

"""Checking a pooled connection before it is used, without a round trip each time.

A connection the server dropped (a restart, ``pg_terminate_backend``, a crash) must be
found when it is taken from the pool, not by failing the claim it was taken for: a claim
that fails is a fire not run. psycopg_pool's own check sends an empty query, one round
trip before every statement: it doubled the latency of every claim. But a server that
ends a session says so first (a ``FATAL`` message, then the socket closes), so an idle
connection the server dropped has something to read: only then is the full check run.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
import psycopg_pool


async def check_connection(connection: psycopg.AsyncConnection[Any]) -> None:
    """Return quietly when ``connection`` looks usable; raise when it is not (the pool then
    replaces it). An idle connection has nothing to read unless the server spoke: a
    termination notice, or the end of the stream."""
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError) as error:  # closed already
        raise psycopg.OperationalError(f"the connection is closed: {error}") from None
    if readable:
        await psycopg_pool.AsyncConnectionPool.check_connection(connection)

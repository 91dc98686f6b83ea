"""Checking a pooled connection before it is used, without a round trip each time.

A connection the server dropped (a restart, ``pg_terminate_backend``, a crash) must be
found when it is taken from the pool, not by failing the claim it was taken for: a claim
that fails is a fire not run. psycopg_pool's own check sends an empty query, one round
trip before every statement: it doubled the latency of every claim. But a server that
ends a session says so first (a ``FATAL`` message, then the socket closes), so an idle
connection the server dropped has something to read: only then is the full check run.
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import AsyncIterator
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


@contextlib.asynccontextmanager
async def pooled_connection(
    pool: psycopg_pool.AsyncConnectionPool, timeout: float
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """``pool.connection(timeout)``, each connection taken checked by
    :func:`check_connection`. Not the pool's own ``check``: after a connection fails it,
    the pool waits a second (its reconnection backoff) before it takes the next one, so
    after every cut (a restart, ``pg_terminate_backend``) each claim waited a second,
    and the next fire of each of its jobs, finding the previous one still claiming, was
    recorded skipped. Here a dead connection is closed and given back (the pool replaces
    it) and the next one is taken at once; ``timeout`` bounds the whole."""
    deadline = time.monotonic() + timeout
    while True:
        connection = await pool.getconn(timeout=deadline - time.monotonic())
        try:
            await check_connection(connection)
        except Exception:
            await connection.close()
            await pool.putconn(connection)
            continue
        except BaseException:
            await pool.putconn(connection)
            raise
        break
    try:
        async with connection:
            yield connection
    finally:
        await pool.putconn(connection)

"""Helpers of the sts-postgres tests: a database of its own per test on the machine's
PostgreSQL (127.0.0.1:5432, user postgres, trust auth; ``STS_TEST_POSTGRES`` names
another server), dropped afterwards, and polling without sleeps of fixed length."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

SERVER = os.environ.get("STS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def server_available() -> bool:
    try:
        with psycopg.connect(f"{SERVER}/postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new database with a random name; its DSN. Dropped with every connection to it."""
    name = f"sts_test_{secrets.token_hex(6)}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield f"{SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def query(dsn: str, statement: str, *parameters: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        cursor = connection.execute(statement.encode(), parameters or None)
        return cursor.fetchall() if cursor.description else []


def terminate_connections(dsn: str) -> int:
    """Cut every connection to the test's database (a database outage, as a client sees
    it), without touching the server or anyone else's databases."""
    database = dsn.rsplit("/", 1)[1]
    rows = query(
        f"{SERVER}/postgres",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        database,
    )
    return int(rows[0][0])


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what or condition}")
        time.sleep(0.05)

"""Fixtures of the sts-postgres tests: each test gets a database of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgres_helpers import SERVER, fresh_database, server_available

import sts.testing

_available: bool | None = None


@pytest.fixture
def dsn() -> Iterator[str]:
    """The DSN of a new, empty database, dropped after the test."""
    global _available
    if _available is None:
        _available = server_available()
    sts.testing.require(_available, f"needs PostgreSQL at {SERVER} (user postgres, trust auth)")
    with fresh_database() as database:
        yield database

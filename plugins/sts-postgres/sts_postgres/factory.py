"""The ``postgres`` state store's factory: what ``[state]`` options a config file gives,
converted and checked, with ``${secret:NAME}`` in the DSN resolved (and so redacted from
every log line and error)."""

from __future__ import annotations

import sts


def open_postgres_store(
    scheduler_name: str,
    *,
    dsn: str,
    group: str = "",
    success_history: int = 20,
    failure_history: int = 20,
    lease: str = "30s",
    flush_interval: str = "200ms",
    claim_retention: str = "1h",
    handoff_delay: str = "100ms",
    claim_window: str = "5ms",
    pool_size: int = 4,
    connect_timeout: str = "10s",
    auto_migrate: bool = True,
    commit_before_run: bool = False,
) -> sts.ClaimingStore:
    """The store ``state = postgres`` opens (a ``PostgresStore``; annotated with the
    public protocol, which the config loader can resolve without importing psycopg).

    :param dsn: ``postgresql://user:${secret:PGPASSWORD}@host:5432/db`` or a libpq
        key/value string.
    :param group: the replicas sharing state and claims; the scheduler's name by default.
    """
    from .store import PostgresStore

    if not dsn.strip():
        raise ValueError("[state] dsn is empty: expected postgresql://user@host:5432/database")
    return PostgresStore(
        sts.resolve_secrets(dsn.strip()),
        group=group.strip() or scheduler_name,
        success_history=success_history,
        failure_history=failure_history,
        lease=sts.parse_duration(lease, what="lease"),
        flush_interval=sts.parse_duration(flush_interval, what="flush_interval"),
        claim_retention=sts.parse_duration(claim_retention, what="claim_retention"),
        handoff_delay=sts.parse_duration(handoff_delay, what="handoff_delay"),
        claim_window=sts.parse_duration(claim_window, what="claim_window"),
        pool_size=pool_size,
        connect_timeout=sts.parse_duration(connect_timeout, what="connect_timeout"),
        auto_migrate=auto_migrate,
        commit_before_run=commit_before_run,
    )

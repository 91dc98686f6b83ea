"""``sts db status`` and ``sts db upgrade``: the schema of the PostgreSQL state store, for
operators who apply migrations by hand (``[state] auto_migrate = false``)."""

from __future__ import annotations

import argparse
import configparser
import os
import sys
from pathlib import Path

import sts


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["status", "upgrade"], help="show or apply migrations")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--dsn",
        help="the database (default: $STS_STATE_DSN, else [state] dsn of --config)",
    )
    source.add_argument(
        "--config", metavar="FILE", help="read the DSN from [state] dsn of this file"
    )


def find_dsn(args: argparse.Namespace) -> str:
    """The DSN the arguments name, with ``${secret:NAME}`` resolved.

    :raises ValueError: naming where a DSN was looked for.
    """
    dsn: str | None = args.dsn
    if dsn is None and args.config is None:
        dsn = os.environ.get("STS_STATE_DSN")
    path = args.config or os.environ.get("STS_CONFIG")
    if dsn is None and path:
        parser = configparser.ConfigParser(inline_comment_prefixes=(";", "#"), interpolation=None)
        if not parser.read(Path(path).expanduser()):
            raise ValueError(f"cannot read the config file {path}")
        dsn = parser.get("state", "dsn", fallback=None)
        if dsn is None:
            raise ValueError(f"{path} has no dsn in its [state] section")
    if not dsn or not dsn.strip():
        raise ValueError("no database given: pass --dsn, set STS_STATE_DSN, or pass --config FILE")
    return sts.resolve_secrets(dsn.strip())


async def _run(action: str, dsn: str) -> str:
    import psycopg

    from .schema import schema_status, upgrade

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as connection:
        if action == "upgrade":
            applied = await upgrade(connection)
            done = ", ".join(str(version) for version in applied) or "none (already current)"
            status = await schema_status(connection)
            return f"migrations applied: {done}; schema version {status.current}"
        status = await schema_status(connection)
        lines = [f"schema version {status.current} (this sts-postgres: {status.latest})"]
        lines += [f"pending: {version} {text}" for version, text in status.pending]
        return "\n".join(lines)


def handler(args: argparse.Namespace) -> int:
    import psycopg

    from .schema import SchemaError
    from .store import describe_dsn

    try:
        dsn = find_dsn(args)
    except (ValueError, sts.SecretError) as error:
        print(f"sts db: {error}", file=sys.stderr)
        return 2
    try:
        import asyncio  # here: `sts --help` registers this command without paying for it

        print(asyncio.run(_run(args.action, dsn)))
    except (psycopg.Error, SchemaError) as error:
        message = sts.redact(str(error).strip().splitlines()[0] if str(error).strip() else "")
        print(f"sts db: {describe_dsn(dsn)}: {message or type(error).__name__}", file=sys.stderr)
        return 1
    return 0

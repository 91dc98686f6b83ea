"""``state = postgres`` from a config file (a secret in the DSN, bad options named with
file and line), and ``sts db status`` / ``sts db upgrade``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from postgres_helpers import query
from sts_postgres import PostgresStore

import sts

STS = Path(sys.executable).parent / "sts"


def write_config(tmp_path: Path, state: str) -> Path:
    path = tmp_path / "sts.ini"
    path.write_text(f"""[scheduler]
name = configured
state = postgres

[state]
{state}

[job:tick]
type = python
callable = builtins:print
schedule = every 1s
""")
    path.chmod(0o600)
    return path


def test_a_config_file_opens_the_store_with_a_secret_in_the_dsn(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Trust auth ignores the password; the point is that it is resolved and never shown.
    monkeypatch.setenv("PG_TEST_PASSWORD", "not-shown-anywhere")
    user_dsn = dsn.replace("postgres@", "postgres:${secret:PG_TEST_PASSWORD}@")
    config = write_config(tmp_path, f"dsn = {user_dsn}\nlease = 5s")
    scheduler = sts.TaskScheduler.from_config(config)
    store = scheduler.store
    try:
        assert isinstance(store, PostgresStore)
        assert (store.group, store.lease) == ("configured", 5.0)
        assert "not-shown-anywhere" not in repr(store)
        assert sts.redact(store.dsn) == store.dsn.replace("not-shown-anywhere", "********")
    finally:
        store.close()


def test_an_unknown_option_is_named_with_its_file_and_line(dsn: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, f"dsn = {dsn}\nleese = 5s")
    with pytest.raises(Exception) as raised:
        sts.TaskScheduler.from_config(config)
    message = str(raised.value)
    assert f"{config}:7" in message and "leese" in message and "lease" in message


def test_a_bad_duration_is_named(dsn: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, f"dsn = {dsn}\nlease = soon")
    with pytest.raises(Exception, match="lease"):
        sts.TaskScheduler.from_config(config)


def run_db(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STS), "db", *arguments], capture_output=True, text=True, timeout=60)


def test_sts_db_status_and_upgrade(dsn: str, tmp_path: Path) -> None:
    before = run_db("status", "--dsn", dsn)
    assert before.returncode == 0, before.stderr
    assert "schema version 0" in before.stdout and "pending: 1" in before.stdout
    applied = run_db("upgrade", "--config", str(write_config(tmp_path, f"dsn = {dsn}")))
    assert applied.returncode == 0, applied.stderr
    assert "migrations applied: 1" in applied.stdout
    assert query(dsn, "SELECT version FROM sts_schema_version") == [(1,)]
    again = run_db("upgrade", "--dsn", dsn)
    assert "none (already current)" in again.stdout
    # Now a store that applies nothing opens it.
    PostgresStore(dsn, auto_migrate=False).close()


def test_sts_db_without_a_database_says_where_it_looked() -> None:
    result = subprocess.run(
        [str(STS), "db", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "--dsn" in result.stderr and "STS_STATE_DSN" in result.stderr


def test_sts_db_names_an_unreachable_server_without_its_password() -> None:
    result = run_db("status", "--dsn", "postgresql://u:hunter22@127.0.0.1:1/x")
    assert result.returncode == 1
    assert "u@127.0.0.1:1/x" in result.stderr and "hunter22" not in result.stderr


def test_sts_history_names_the_replica_of_each_run(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control socket of a scheduler of our own, in a runtime directory of our own.
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    fire = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    other = PostgresStore(dsn, group="group")
    other.record_run(sts.RunRecord("run-other", "tick", fire, sts.Outcome.SUCCEEDED))
    other.close()
    store = PostgresStore(dsn, group="group")
    store.record_run(sts.RunRecord("run-here", "tick", fire, sts.Outcome.FAILED, error="boom"))

    async def ask() -> subprocess.CompletedProcess[str]:
        scheduler = sts.TaskScheduler(name="group", store=store, control_socket=True)
        async with scheduler:
            command = [str(STS), "--name", "group", "history"]
            return await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, timeout=60
            )

    try:
        result = asyncio.run(ask())
    finally:
        store.close()
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert "REPLICA" in header.split()
    for run, replica in (("run-other", other.replica), ("run-here", store.replica)):
        assert any(run in row and replica in row for row in rows), rows

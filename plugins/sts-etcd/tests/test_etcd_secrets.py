"""The secret provider ``etcd``: a ``${secret:NAME}`` read from an etcd key, redacted."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from etcd_helpers import EtcdServer
from sts_etcd.secrets import EtcdSecrets

import sts


def test_a_secret_from_etcd_is_resolved_and_redacted(
    etcd: EtcdServer, prefix: str, tmp_path: Path
) -> None:
    etcd.put(f"{prefix}secrets/API_TOKEN", "tok-3f9a-very-secret")
    path = tmp_path / "sts.ini"
    path.write_text(
        "[scheduler]\nname = secrets-test\n\n[secrets]\nproviders = env, etcd\n\n"
        f"[secrets:etcd]\nendpoints = {etcd.endpoint}\nprefix = {prefix}secrets/\n\n"
        "[job:uses-it]\ntype = python\ncallable = etcd_helpers:record\nschedule = every 1h\n"
    )
    path.chmod(0o600)
    plugins = sts.create_plugins(load_entry_points=False)
    import sts_etcd

    plugins.register(sts_etcd, name="etcd")
    sts.TaskScheduler.from_config(path, plugins=plugins, store=sts.MemoryStore())
    assert sts.resolve_secrets("Bearer ${secret:API_TOKEN}") == "Bearer tok-3f9a-very-secret"
    assert "tok-3f9a-very-secret" not in sts.redact("sent tok-3f9a-very-secret")
    with pytest.raises(sts.SecretError, match=re.escape(f"the etcd key {prefix}secrets/MISSING")):
        sts.resolve_secrets("${secret:MISSING}")


def test_etcd_down_uses_the_value_read_last(etcd: EtcdServer, prefix: str) -> None:
    etcd.put(f"{prefix}KEY", "value-read-once")
    secrets = EtcdSecrets(endpoints=[etcd.endpoint], prefix=prefix, timeout=1)
    assert secrets.get("KEY") == "value-read-once"
    assert secrets.get("ABSENT") is None
    secrets.connection = type(secrets.connection)(("127.0.0.1:1",), timeout=1)
    secrets._read = {name: (0.0, value) for name, (_, value) in secrets._read.items()}
    assert secrets.get("KEY") == "value-read-once"  # stale, but etcd cannot be asked
    with pytest.raises(sts.SecretError, match=r"etcd at 127\.0\.0\.1:1 cannot be read"):
        secrets.get("NEVER-READ")


def test_the_source_and_the_secret_provider_take_the_same_connection_options() -> None:
    # Written out in both signatures on purpose: the config layer reads [source:etcd]'s
    # and [secrets:etcd]'s options from them, and both hand these to Connection.configured.
    from sts_etcd.connection import Connection
    from sts_etcd.source import EtcdSource

    names = list(inspect.signature(Connection.configured).parameters)
    source = inspect.signature(EtcdSource).parameters
    secrets = inspect.signature(EtcdSecrets).parameters
    assert [source[name].default for name in names] == [secrets[name].default for name in names]

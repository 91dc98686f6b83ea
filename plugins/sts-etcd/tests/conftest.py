"""Fixtures of the sts-etcd tests: one etcd server for the session, a key prefix of its
own for each test (deleted afterwards), and a server of its own for a test that stops it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from etcd_helpers import ETCD, ETCDCTL, MISSING, EtcdServer

from sts.testing import require


@pytest.fixture(scope="session")
def shared_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer | None]:
    if ETCD is None or ETCDCTL is None:
        yield None
        return
    server = EtcdServer(tmp_path_factory.mktemp("etcd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def etcd(shared_etcd: EtcdServer | None) -> EtcdServer:
    require(shared_etcd is not None, MISSING)
    assert shared_etcd is not None
    return shared_etcd


@pytest.fixture
def own_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """A server for this test alone (it stops and starts it, or turns auth on)."""
    require(ETCD is not None and ETCDCTL is not None, MISSING)
    server = EtcdServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def prefix(shared_etcd: EtcdServer | None) -> Iterator[str]:
    """A key prefix of this test's own, removed afterwards."""
    value = f"/sts-test/{uuid.uuid4().hex[:12]}/"
    yield value
    if shared_etcd is not None and shared_etcd.process is not None:
        shared_etcd.delete(value, prefix=True)

"""Fixtures of the sts-webhook tests: a scripted HTTP server, and an HTTPS one whose
certificate a private CA signed."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from webhook_helpers import ScriptedServer, TLSServer


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TLSServer]:
    """An HTTPS server whose certificate (for 127.0.0.1 and localhost) a private CA signed;
    the CA's PEM file is ``ca_file``."""
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    scripted = ScriptedServer(context)
    yield TLSServer(scripted, ca_file)
    scripted.close()

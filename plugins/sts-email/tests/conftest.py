"""Fixtures of the sts-email tests: a real SMTP server and a certificate authority."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from email_server import StartServer, start_server


@pytest.fixture(scope="session")
def certificate_authority(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


@pytest.fixture
def smtp_server(certificate_authority: tuple[trustme.CA, Path]) -> Iterator[StartServer]:
    """``smtp_server(security="none"|"starttls"|"tls", auth=False, **aiosmtpd_options)``:
    a real SMTP server on a free loopback port, stopped after the test."""
    authority, ca_file = certificate_authority
    started: list[Controller] = []
    yield start_server(authority, ca_file, started)
    for controller in started:
        controller.stop()

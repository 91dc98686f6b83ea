"""SMTP settings, shared by the ``email`` task type and the ``email:`` notifier: from the
``[email]`` section, overridden per job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sts

SECURITY_MODES = ("starttls", "tls", "none")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True, slots=True)
class SMTPSettings:
    """Where and how to send.

    :param security: ``starttls`` (upgrade a plain connection, port 587), ``tls`` (TLS from
        the first byte, port 465) or ``none`` (plain text, port 25: only on a trusted net).
    :param password: plain text or, better, ``${secret:NAME}``: resolved when connecting,
        never logged.
    :param validate_certs: check the server's certificate (against ``ca_file`` when given,
        else the system's trusted authorities).
    """

    host: str = "localhost"
    port: int | None = None
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    validate_certs: bool = True
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(
                f"invalid security {self.security!r}: expected one of {', '.join(SECURITY_MODES)}"
            )
        if not self.host.strip():
            raise ValueError("invalid host '': expected the SMTP server's name or address")
        if self.port is not None and not 0 < self.port < 65536:
            raise ValueError(f"invalid port {self.port!r}: expected 1 to 65535")
        if self.timeout <= 0:
            raise ValueError(f"invalid timeout {self.timeout!r}: it must be longer than zero")
        if self.password is not None and not self.username:
            raise ValueError("a password needs a username: set username too")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"invalid ca_file: {self.ca_file} is not a file")

    @classmethod
    def build(
        cls,
        *,
        host: str = "localhost",
        port: int | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: str | float = 30.0,
        validate_certs: bool = True,
        ca_file: Path | str | None = None,
    ) -> SMTPSettings:
        return cls(
            host=host.strip(),
            port=port,
            security=security.strip().lower(),
            username=username or None,
            password=password or None,
            timeout=sts.parse_duration(timeout, what="timeout"),
            validate_certs=validate_certs,
            ca_file=Path(ca_file).expanduser() if ca_file else None,
        )

    @property
    def effective_port(self) -> int:
        return self.port or _DEFAULT_PORTS[self.security]

    @property
    def where(self) -> str:
        """``smtp.example.org:587 (starttls)``, for error messages."""
        return f"{self.host}:{self.effective_port} ({self.security})"

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of ``aiosmtplib.SMTP``, the password resolved now."""
        password = self.password
        if password is not None:
            password = sts.resolve_secrets(password)  # remembered, so redacted everywhere
        return {
            "hostname": self.host,
            "port": self.effective_port,
            "username": self.username,
            "password": password,
            "timeout": self.timeout,
            "use_tls": self.security == "tls",
            "start_tls": self.security == "starttls",
            "validate_certs": self.validate_certs,
            "cert_bundle": str(self.ca_file) if self.ca_file is not None else None,
        }

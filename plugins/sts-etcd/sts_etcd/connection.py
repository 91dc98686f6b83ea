"""How to reach etcd: endpoints, TLS and a user, turned into a connected etcd3aio client."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from etcd3aio import Etcd3Client

import sts

#: etcd's default token lifetime is 5 minutes; a watch that runs for days renews its token.
TOKEN_REFRESH = 240.0
#: The longest a broken watch stream waits before it tries again (seconds).
WATCH_RETRY = 0.5


@dataclass(frozen=True, slots=True)
class Connection:
    """Where etcd is and how to log in.

    :param endpoints: ``host:port`` of each member (``https://`` or ``http://`` may lead).
    :param ca_file: the CA that signed the members' certificates: TLS on.
    :param cert_file: this client's certificate, for members that ask for one.
    :param key_file: its private key.
    :param username: etcd's user (``etcdctl user add``), with ``password``.
    :param timeout: seconds one request may take.
    """

    endpoints: tuple[str, ...]
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 5.0

    @classmethod
    def configured(
        cls,
        endpoints: Sequence[str] | None,
        *,
        ca_file: Path | None,
        cert_file: Path | None,
        key_file: Path | None,
        username: str | None,
        password: str | None,
        timeout: float,
    ) -> Connection:
        """From a config section's options: the local member by default, the password's
        ``${secret:...}`` resolved (the source and the secret provider read the same keys)."""
        return cls(
            tuple(endpoints or ["127.0.0.1:2379"]),
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            username=username,
            password=sts.resolve_secrets(password) if password is not None else None,
            timeout=timeout,
        )

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ValueError("expected at least one etcd endpoint, such as 127.0.0.1:2379")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both, or neither")
        if self.cert_file is not None and self.ca_file is None:
            raise ValueError("a client certificate needs TLS: give ca_file as well")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both, or neither")

    @property
    def described(self) -> str:
        """The endpoints, for messages (never the password)."""
        return ", ".join(self.endpoints)

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[Etcd3Client]:
        """A client, logged in when a user is given, closed on exit.

        :raises etcd3aio.EtcdError: when etcd cannot be reached or refuses the user.
        """
        addresses, server_name = _addresses(self.endpoints)
        client = Etcd3Client(
            addresses,
            ca_cert=self.ca_file.read_bytes() if self.ca_file is not None else None,
            cert_chain=self.cert_file.read_bytes() if self.cert_file is not None else None,
            cert_key=self.key_file.read_bytes() if self.key_file is not None else None,
            rpc_max_attempts=1,  # the source retries itself, and logs an outage once
            # A watch stream broken by an outage retries at least every half second, so a
            # change written right after etcd is back arrives within a second.
            watch_reconnect_backoff_seconds=0.1,
            watch_max_reconnect_backoff_seconds=WATCH_RETRY,
            tls_server_name=server_name if self.ca_file is not None else None,
        )
        async with client:
            if self.username is not None and self.password is not None:
                async with client.token_refresher(
                    self.username, self.password, interval=TOKEN_REFRESH
                ):
                    yield client
            else:
                yield client


def _addresses(endpoints: tuple[str, ...]) -> tuple[list[str], str | None]:
    """``ip:port`` of each endpoint (the client dials IPv4 addresses), and the host name
    that the members' certificates are checked against (the first one given as a name)."""
    addresses: list[str] = []
    server_name: str | None = None
    for endpoint in endpoints:
        host, _, port = endpoint.split("://")[-1].rstrip("/").rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"invalid etcd endpoint {endpoint!r}: expected host:port")
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            server_name = server_name or host
            host = str(socket.getaddrinfo(host, int(port), socket.AF_INET)[0][4][0])
        addresses.append(f"{host}:{port}")
    return addresses, server_name

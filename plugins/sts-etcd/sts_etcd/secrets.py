"""The secret provider ``etcd``: ``${secret:NAME}`` is the value of the key
``<prefix><NAME>`` (``/sts-secrets/NAME`` by default), redacted like every secret."""

from __future__ import annotations

import time
from pathlib import Path

import sts

from .connection import Connection
from .source import run_to_end

#: How long a value read is used before etcd is asked again (seconds). A task resolves
#: its secrets at every run: a job every second must not mean a read every second.
FRESH_FOR = 60.0


class EtcdSecrets:
    """Secrets from etcd keys (options in ``[secrets:etcd]``, like ``[source:etcd]``'s).

    :param prefix: the keys' common prefix; a secret ``NAME`` is the key ``<prefix>NAME``.
        Keep it outside the config source's prefix, and readable by fewer users.
    """

    def __init__(
        self,
        endpoints: list[str] | None = None,
        prefix: str = "/sts-secrets/",
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.prefix = prefix if prefix.endswith("/") else f"{prefix}/"
        self.connection = Connection.configured(
            endpoints,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            username=username,
            password=password,
            timeout=timeout,
        )
        self._read: dict[str, tuple[float, str | None]] = {}

    def get(self, name: str) -> str | None:
        """The value of ``<prefix><name>``, or ``None`` when there is no such key. A value
        read in the last minute is used again; while etcd cannot be read, the last value
        read is used.

        :raises sts.SecretError: when etcd cannot be read and the value was never read.
        """
        now = time.monotonic()
        known = self._read.get(name)
        if known is not None and now - known[0] < FRESH_FOR:
            return known[1]
        try:
            value = run_to_end(self._get(self.prefix + name))
        except Exception as error:
            if known is not None:
                return known[1]
            raise sts.SecretError(
                f"secret {name!r}: etcd at {self.connection.described} cannot be read "
                f"({type(error).__name__})"
            ) from None
        self._read[name] = (now, value)
        return value

    def where(self, name: str) -> str:
        return f"the etcd key {self.prefix}{name}"

    async def _get(self, key: str) -> str | None:
        async with self.connection.client() as client:
            assert client.kv is not None
            response = await client.kv.get(key, timeout=self.connection.timeout)
        if not response.kvs:
            return None
        value: bytes = response.kvs[0].value
        return value.decode("utf-8")

"""The config source ``etcd``: ``load()`` reads every key under the prefix; ``watch()``
reports changes under it, and etcd going away and coming back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from etcd3aio.kv import prefix_range_end

from .cache import default_cache_file, read_cache, write_cache
from .connection import Connection
from .layout import Entry, sections_from

logger = logging.getLogger("sts.etcd")

T = TypeVar("T")

#: How often a watching source asks etcd whether it is there (a tiny count-only read):
#: an outage is noticed within about this long even while nothing changes.
PROBE_INTERVAL = 1.0


class _QuietRetries(logging.Filter):
    """etcd3aio logs a warning at every retry of a broken watch stream (every few seconds
    of an outage); the source logs an outage once, when it starts and when it ends."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("watch: transient error")


logging.getLogger("etcd3aio.watch").addFilter(_QuietRetries())


class _Back:
    """A notice: etcd answers again after an outage (or for the first time)."""


class EtcdSource:
    """Jobs and settings from the keys under ``prefix`` (layout: docs/plugins/etcd.md).

    :param endpoints: the members, ``host:port`` each (comma-separated in a config file).
    :param prefix: the keys' common prefix; ``/sts/<scheduler name>/`` by default.
    :param required: refuse to start when etcd cannot be read; otherwise start from the
        configuration cached at the last successful read, with a warning.
    :param ca_file: the CA of the members' certificates (TLS on).
    :param cert_file: this client's certificate (with ``key_file``), if the members ask.
    :param key_file: its private key.
    :param username: etcd's user, with ``password`` (write ``${secret:NAME}`` for it).
    :param password: the user's password.
    :param timeout: seconds a read may take (``5s``).
    :param cache_file: where the last configuration read is kept;
        ``<data dir>/sts/<scheduler name>.etcd.json`` by default.
    """

    def __init__(
        self,
        endpoints: list[str] | None = None,
        prefix: str | None = None,
        required: bool = False,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
        cache_file: Path | None = None,
        scheduler_name: str = "sts",
    ) -> None:
        if prefix is not None and not prefix.startswith("/"):
            raise ValueError(f"invalid prefix {prefix!r}: expected a key path such as /sts/office/")
        self.prefix = prefix if prefix is not None else f"/sts/{scheduler_name}/"
        if not self.prefix.endswith("/"):
            self.prefix += "/"
        self.connection = Connection.configured(
            endpoints,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            username=username,
            password=password,
            timeout=timeout,
        )
        self.required = required
        self.cache_file = cache_file or default_cache_file(scheduler_name)
        #: The etcd revision of the last load (the cache's, when it came from there).
        self.revision = 0
        #: Whether the last load came from the cache (etcd was down).
        self.from_cache = False

    @property
    def origin(self) -> str:
        return f"etcd {self.prefix}"

    # -- load -------------------------------------------------------------------------------

    def load(self) -> dict[str, dict[str, tuple[str, str]]]:
        """Every key under the prefix, as sections of ``(value, origin)`` pairs.

        :raises ValueError: when a key or value breaks the layout (naming each, with its
            revision), or etcd is down and the source is ``required`` or has no cache.
        """
        try:
            revision, entries = run_to_end(self._read())
        except Exception as error:
            cached = None if self.required else read_cache(self.cache_file, self.prefix)
            if cached is None:
                why = "required = true" if self.required else f"no cache at {self.cache_file}"
                raise ValueError(
                    f"etcd at {self.connection.described} cannot be read ({_reason(error)}) "
                    f"and there is no configuration to start from ({why})"
                ) from None
            revision, entries = cached
            self.from_cache = True
            logger.warning(
                "etcd at %s cannot be read (%s): starting from the configuration cached at "
                "%s (revision %d); it is reloaded once etcd answers",
                self.connection.described,
                _reason(error),
                self.cache_file,
                revision,
            )
        else:
            self.from_cache = False
            write_cache(self.cache_file, self.prefix, revision, entries)
        self.revision = revision
        return sections_from(entries, self.prefix)

    async def _read(self) -> tuple[int, list[Entry]]:
        async with self.connection.client() as client:
            assert client.kv is not None
            response = await client.kv.get(
                self.prefix,
                range_end=prefix_range_end(self.prefix.encode()),
                timeout=self.connection.timeout,
            )
        entries = [
            Entry(kv.key.decode("utf-8", "replace"), kv.value, kv.mod_revision)
            for kv in response.kvs
        ]
        return response.header.revision, entries

    # -- watch ------------------------------------------------------------------------------

    async def watch(self) -> AsyncIterator[str]:
        """A notice for each change under the prefix, and one when etcd answers again
        after an outage (the reload then reads everything, so nothing written meanwhile
        is missed). An outage is logged once, when it starts, and once when it ends."""
        notices: asyncio.Queue[object] = asyncio.Queue()
        async with self.connection.client() as client:
            tasks = [
                asyncio.create_task(self._stream(client, notices)),
                asyncio.create_task(self._probe(client, notices)),
            ]
            try:
                while True:
                    notice = await notices.get()
                    if isinstance(notice, BaseException):
                        raise notice
                    yield "etcd answers again" if isinstance(notice, _Back) else str(notice)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _stream(self, client: Any, notices: asyncio.Queue[object]) -> None:
        try:
            start = self.revision + 1 if self.revision else 0
            stream = client.watch.watch(
                self.prefix,
                range_end=prefix_range_end(self.prefix.encode()),
                start_revision=start,
            )
            async for response in stream:
                self.revision = max(self.revision, response.header.revision)
                if response.events:
                    keys = sorted(
                        {event.kv.key.decode("utf-8", "replace") for event in response.events}
                    )
                    shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
                    notices.put_nowait(f"revision {response.header.revision}: {shown}")
        except Exception as error:  # refused (an expired token): watch() starts afresh
            notices.put_nowait(error)

    async def _probe(self, client: Any, notices: asyncio.Queue[object]) -> None:
        down_since: float | None = time.monotonic() if self.from_cache else None
        while True:
            try:
                await client.kv.get(self.prefix, count_only=True, timeout=PROBE_INTERVAL)
            except Exception as error:
                if down_since is None:
                    down_since = time.monotonic()
                    logger.warning(
                        "etcd at %s is unreachable (%s): the running configuration stays; "
                        "reconnecting",
                        self.connection.described,
                        _reason(error),
                    )
            else:
                if down_since is not None:
                    logger.warning(
                        "etcd at %s answers again after %.1fs: reloading",
                        self.connection.described,
                        time.monotonic() - down_since,
                    )
                    down_since = None
                    self.from_cache = False
                    notices.put_nowait(_Back())
            await asyncio.sleep(PROBE_INTERVAL)


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_to_end(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end from synchronous code, even under a running loop (the
    config is read on a thread by a reload, but a caller may read it from async code)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()

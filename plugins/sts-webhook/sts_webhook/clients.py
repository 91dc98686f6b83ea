"""httpx clients: shared by the webhook calls of the schedulers on one event loop, kept
alive between calls, closed when the last scheduler stops.

An ``httpx.AsyncClient`` pools connections on the event loop it first runs on, so a pool
of clients belongs to a loop. The plugin's lifecycle hooks count the schedulers started
on a loop; the last one to stop closes the loop's clients, once its runs have ended (the
hook ``sts_scheduler_stopping`` is called before that, so the closing waits for the stop).
The closing happens just after ``stop()`` returns (and before ``asyncio.run`` ends, which
waits for it). A task awaited outside any scheduler gets a client for that one call.

A loop holds one :class:`ClientGroup` per TLS setting (the default trust store, or a job's
``ca``) and HTTP version, since those are fixed when a client is made; everything else
(timeouts, redirects, headers) is per request. A group holds clients of one connection
each (its docstring says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import logging
import ssl
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

import sts

from .destinations import check_request

#: Calls under way at once per client setting: enough that a thousand calls a second to one
#: host reuse connections instead of opening new ones. Idle connections are dropped after
#: 4 s: servers close idle connections too (uvicorn and Node.js after 5 s), and a request
#: sent on a connection the server is closing fails with a read error.
MAX_CONNECTIONS = 200
KEEPALIVE_EXPIRY = 4.0
USER_AGENT = "sts-webhook/0.1"

logger = logging.getLogger("sts.webhook")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """What a client is made with; requests differing only in other options share one."""

    ca: str | None = None
    http2: bool = False


def pool_limits() -> httpx.Limits:
    """The connection limits of a client of a group: one connection (see
    :class:`ClientGroup`)."""
    return httpx.Limits(
        max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_EXPIRY
    )


def tls_context(settings: ClientSettings) -> ssl.SSLContext:
    """The trust store of ``settings``: the job's ``ca``, or what httpx uses (certifi, or
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``). Loading one takes ~100 ms: made once a group."""
    if settings.ca is not None:
        return ssl.create_default_context(cafile=settings.ca)
    return httpx.create_ssl_context(trust_env=True)


class _EmptyJar(http.cookiejar.CookieJar):
    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        pass


class UnkeptCookies(httpx.Cookies):
    """Cookies that stay empty: nothing a server or a caller sets is kept."""

    def __init__(self) -> None:
        super().__init__(_EmptyJar())

    def extract_cookies(self, response: httpx.Response) -> None:
        pass  # not even read: httpx would build two urllib objects per answer for it


class StatelessClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that keeps no cookies: the clients of a group serve the
    calls of every job to an origin, and a cookie one job's answer sets must not ride on
    another job's request (a webhook call carries what its job says, nothing else). It
    also spares httpx's cookie bookkeeping, about a twentieth of a call's CPU."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _UNKEPT

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        if cookies:
            raise ValueError("a webhook client keeps no cookies; send a Cookie header instead")


_UNKEPT = UnkeptCookies()


def make_client(
    settings: ClientSettings, verify: ssl.SSLContext | None = None
) -> httpx.AsyncClient:
    """A client with the destination check as a request hook, proxies taken from the
    environment (``HTTPS_PROXY``, ``NO_PROXY``...) as httpx does, no redirects unless a
    request asks, and no cookies kept."""
    _redact_httpx_logs()
    return StatelessClient(
        verify=tls_context(settings) if verify is None else verify,
        http2=settings.http2,
        limits=pool_limits(),
        trust_env=True,
        headers={"User-Agent": USER_AGENT},
        event_hooks={"request": [check_request]},
    )


class ClientGroup:
    """The clients of one setting, each holding one connection: at most
    ``MAX_CONNECTIONS`` calls under way at once; calls beyond that wait here, in the order
    they came. An idle client waits for the next call to its origin (the last one used
    first, so that the others expire), and is closed once idle for ``KEEPALIVE_EXPIRY``.

    Why not httpcore's pool of many connections: it looks at every connection for each
    idle one, and at every connection for each waiting request, each time a request starts
    or ends (O(connections x (idle + waiting)) in httpcore 1.0). At 200 connections that was
    ~6 ms of CPU per request, and behind a slow server the spiral (slower loop, more
    requests under way, more connections) stalled the scheduler's loop for seconds. Here a
    call costs O(1) however many connections are open: a semaphore wakes a waiter, and a
    dictionary finds an idle connection to the call's origin.
    """

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._verify: ssl.SSLContext | None = None
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        #: Origin -> its idle clients, oldest first, each with when it became idle.
        self._idle: dict[str, list[tuple[httpx.AsyncClient, float]]] = {}
        self._idle_count = 0
        self._sweep_timer: asyncio.TimerHandle | None = None
        #: The clients in use or idle (not those being closed).
        self.clients: set[httpx.AsyncClient] = set()
        self._closing: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def client(self, timeout: float | None, origin: str) -> AsyncIterator[httpx.AsyncClient]:
        """A client for a call to ``origin`` (``scheme://host:port``), held until the block
        ends; waiting longer than ``timeout`` (the pool timeout) fails as httpx's own wait
        for a connection."""
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"no free connection within {timeout:g}s") from None
        try:
            client = self._take_idle(origin)
            if client is None:
                self._make_room()
                if self._verify is None:
                    self._verify = tls_context(self._settings)
                client = make_client(self._settings, self._verify)
                self.clients.add(client)
            try:
                yield client
            finally:
                self._idle.setdefault(origin, []).append((client, time.monotonic()))
                self._idle_count += 1
                if self._sweep_timer is None:
                    self._arm_sweep()
        finally:
            self._slots.release()

    def _take_idle(self, origin: str) -> httpx.AsyncClient | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        client, _ = idle.pop()
        self._idle_count -= 1
        if not idle:
            del self._idle[origin]
        return client

    def _make_room(self) -> None:
        """Keep at most ``MAX_CONNECTIONS`` open: retire the longest idle client."""
        if len(self.clients) < MAX_CONNECTIONS or not self._idle_count:
            return
        origin = min(self._idle, key=lambda each: self._idle[each][0][1])
        idle = self._idle[origin]
        client, _ = idle.pop(0)
        if not idle:
            del self._idle[origin]
        self._idle_count -= 1
        self._retire([client])

    def _arm_sweep(self) -> None:
        self._sweep_timer = asyncio.get_running_loop().call_later(KEEPALIVE_EXPIRY, self._sweep)

    def _sweep(self) -> None:
        """Retire the clients idle for ``KEEPALIVE_EXPIRY``, also when no call comes (a
        burst, then silence); again while idle ones are left."""
        self._sweep_timer = None
        expired = time.monotonic() - KEEPALIVE_EXPIRY
        retired: list[httpx.AsyncClient] = []
        for origin in list(self._idle):
            idle = self._idle[origin]
            count = next((i for i, (_, since) in enumerate(idle) if since >= expired), len(idle))
            retired += [client for client, _ in idle[:count]]
            del idle[:count]
            if not idle:
                del self._idle[origin]
        self._idle_count -= len(retired)
        if retired:
            self._retire(retired)
        if self._idle_count:
            self._arm_sweep()

    def _retire(self, clients: list[httpx.AsyncClient]) -> None:
        """Close ``clients`` in a task of their own: never in a call's way, and never cut
        short by a call's cancellation (which would leave their sockets open)."""
        self.clients.difference_update(clients)
        task = asyncio.get_running_loop().create_task(_close_clients(clients))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
            self._sweep_timer = None
        self._idle.clear()
        self._idle_count = 0
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        clients, self.clients = self.clients, set()
        await _close_clients(list(clients))


async def _close_clients(clients: list[httpx.AsyncClient]) -> None:
    for client in clients:
        try:
            await client.aclose()
        except Exception as error:  # a socket already broken: nothing left to close
            logger.debug("closing a webhook client failed: %s", error)


class ClientPool:
    """The client groups of one event loop, and how many started schedulers use them."""

    def __init__(self) -> None:
        self._groups: dict[ClientSettings, ClientGroup] = {}
        #: The started schedulers using them (by id: a scheduler outlives its stop).
        self.schedulers: set[int] = set()
        self.closed = False

    def get(self, settings: ClientSettings) -> ClientGroup:
        group = self._groups.get(settings)
        if group is None:
            group = self._groups[settings] = ClientGroup(settings)
        return group

    async def aclose(self) -> None:
        self.closed = True
        groups, self._groups = list(self._groups.values()), {}
        for group in groups:
            await group.aclose()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientPool] = (
    weakref.WeakKeyDictionary()
)
#: Closing tasks under way (the loop keeps only weak references to tasks).
_closing: set[asyncio.Task[None]] = set()


def shared_pool() -> ClientPool | None:
    """The pool of the running loop, when a scheduler runs on it."""
    pool = _pools.get(asyncio.get_running_loop())
    return None if pool is None or pool.closed else pool


def scheduler_started(scheduler: sts.TaskScheduler) -> None:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None or pool.closed:
        pool = _pools[loop] = ClientPool()
    pool.schedulers.add(id(scheduler))


def scheduler_stopping(scheduler: sts.TaskScheduler) -> None:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None or id(scheduler) not in pool.schedulers:
        return
    task = loop.create_task(_release_after_stop(scheduler, loop, pool))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _release_after_stop(
    scheduler: sts.TaskScheduler, loop: asyncio.AbstractEventLoop, pool: ClientPool
) -> None:
    try:
        # From the scheduler's loop, stop() hands back the stop under way: this waits
        # for the runs still using the clients.
        await scheduler.stop()
    finally:
        pool.schedulers.discard(id(scheduler))
        if not pool.schedulers:
            if _pools.get(loop) is pool:
                del _pools[loop]
            # Also when a loop shutting down (asyncio.run's end) cancelled the wait above.
            await pool.aclose()


class _RedactingFilter(logging.Filter):
    """httpx logs each request's URL at INFO: a secret in it is masked like in STS's logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = sts.redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_filter = _RedactingFilter()


#: A filter on a logger sees only the records logged to that very logger, not its
#: children's: every logger httpx and httpcore log to (their sources name these).
_HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def _redact_httpx_logs() -> None:
    for name in _HTTP_LOGGERS:
        target: Any = logging.getLogger(name)
        if _filter not in target.filters:
            target.addFilter(_filter)

"""Clients of the control protocol: a blocking one for the ``sts`` commands and an
asyncio one, with the event subscription, for the terminal UI."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .protocol import MAX_LINE, PROTOCOL_VERSION, ControlError, decode_answer, encode

DEFAULT_TIMEOUT = 30.0
#: Lines, or bytes, read in a row before the reader lets the rest of the loop run: a
#: burst that is already buffered would otherwise be decoded in one go, and a UI on the
#: same loop would not answer a key until the whole burst was read.
LINES_PER_TURN = 200
BYTES_PER_TURN = 256 * 1024


def default_control_socket(scheduler_name: str = "sts") -> Path:
    """Where a scheduler named ``scheduler_name`` listens with ``control_socket=True``."""
    from ..paths import control_socket

    return control_socket(scheduler_name)


def _result(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("ok"):
        result = message.get("result")
        return result if isinstance(result, dict) else {}
    error = message.get("error") or {}
    raise ControlError(str(error.get("code", "error")), str(error.get("message", error)))


def request(
    path: str | os.PathLike[str],
    command: str,
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    **arguments: Any,
) -> dict[str, Any]:
    """Send one command to the scheduler listening on ``path`` and return its result.

    :raises ControlError: when the scheduler answers with an error.
    :raises FileNotFoundError: when no socket exists at ``path``.
    :raises ConnectionError: when nobody listens there (a scheduler that stopped), or it
        hangs up before answering.
    :raises TimeoutError: when no answer comes within ``timeout`` seconds.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(os.fspath(path))
        connection.sendall(encode({"id": 1, "command": command, "arguments": arguments}))
        with connection.makefile("rb") as lines:
            while True:
                line = lines.readline(MAX_LINE)
                if not line:
                    raise ConnectionError(
                        f"the scheduler on {os.fspath(path)!r} hung up before answering"
                    )
                message = decode_answer(line)
                if message.get("id") == 1:
                    return _result(message)


#: ``request`` under its public name (``sts.control_request``): alone at the top of the
#: ``sts`` namespace, "request" would not say to what.
control_request = request


class ControlClient:
    """An asyncio connection to a scheduler's control socket.

    ``await client.connect()`` says hello (and checks the protocol version); then
    ``await client.request(command, **arguments)`` any number of times, concurrently;
    ``await client.subscribe()`` and ``async for event in client.events()`` follow runs and
    job changes. Once the scheduler hangs up, requests and ``events()`` raise
    ``ConnectionError``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(os.fspath(path))
        self.hello: dict[str, Any] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reading: asyncio.Task[None] | None = None
        self._closed_error: ConnectionError | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None and self._closed_error is None

    async def connect(self) -> dict[str, Any]:
        """Connect and say hello; returns the scheduler's hello answer.

        :raises FileNotFoundError | ConnectionError: when no scheduler listens.
        :raises ControlError: when the scheduler speaks another protocol version.
        """
        self._reader, self._writer = await asyncio.open_unix_connection(
            str(self.path), limit=MAX_LINE
        )
        self._closed_error = None
        self._events = asyncio.Queue()
        self._reading = asyncio.get_running_loop().create_task(self._read())
        self.hello = await self.request("hello", protocol=PROTOCOL_VERSION)
        return self.hello

    async def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        """Send a command and wait for its result.

        :raises ControlError: when the scheduler answers with an error.
        :raises ConnectionError: when the connection is gone.
        """
        if self._writer is None or self._closed_error is not None:
            raise self._closed_error or ConnectionError("not connected: call connect() first")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._writer.write(
                encode({"id": request_id, "command": command, "arguments": arguments})
            )
            await self._writer.drain()
            return await future
        finally:
            self._pending.pop(request_id, None)

    async def subscribe(self, events: list[str] | None = None) -> dict[str, Any]:
        """Ask for events (all of them by default); read them with :meth:`events`."""
        arguments: dict[str, Any] = {} if events is None else {"events": events}
        return await self.request("subscribe", **arguments)

    async def subscribe_coalesced(
        self, interval: float, events: list[str] | None = None
    ) -> dict[str, Any]:
        """Ask for the events as one ``batch`` event every ``interval`` seconds: each
        changed job's row once, the jobs removed, the interval's last events (counted)."""
        arguments: dict[str, Any] = {"coalesce": interval}
        if events is not None:
            arguments["events"] = events
        return await self.request("subscribe", **arguments)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Events as they come: ``{"event": name, "data": {...}}``.

        :raises ConnectionError: when the scheduler hangs up.
        """
        while True:
            event = await self._events.get()
            if event is None:
                raise self._closed_error or ConnectionError("the control connection closed")
            yield event

    def pending_events(self) -> list[dict[str, Any]]:
        """Every event already received and not yet read, without waiting (for batching)."""
        taken: list[dict[str, Any]] = []
        while not self._events.empty():
            event = self._events.get_nowait()
            if event is None:
                self._events.put_nowait(None)  # keep the end-of-stream marker for events()
                break
            taken.append(event)
        return taken

    async def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading
            self._reading = None
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
            self._writer = None
        self._hang_up(ConnectionError("the control connection was closed"))

    async def __aenter__(self) -> ControlClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _read(self) -> None:
        assert self._reader is not None
        reason = ConnectionError(f"the scheduler on {str(self.path)!r} hung up")
        lines = size = 0  # read since the reader last let the loop run
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                lines += 1
                size += len(line)
                if lines >= LINES_PER_TURN or size >= BYTES_PER_TURN:
                    lines = size = 0
                    await asyncio.sleep(0)
                message = decode_answer(line)
                if "event" in message:
                    self._events.put_nowait(message)
                    continue
                future = self._pending.get(message.get("id"))  # type: ignore[arg-type]
                if future is None or future.done():
                    continue
                try:
                    future.set_result(_result(message))
                except ControlError as error:
                    future.set_exception(error)
        except (ConnectionError, OSError, ValueError, ControlError) as error:
            reason = ConnectionError(f"the control connection to {str(self.path)!r} broke: {error}")
        finally:
            self._hang_up(reason)

    def _hang_up(self, reason: ConnectionError) -> None:
        if self._closed_error is not None:
            return
        self._closed_error = reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(reason)
        self._events.put_nowait(None)

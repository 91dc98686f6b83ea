"""The control server: a Unix socket on which a running scheduler answers the control
protocol and streams its run and job events to subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...redaction import redact
from ..file_lock import ExclusiveLock, LockHeld
from ..reload.registry import reloader_of
from ..start_line import facts_of
from .coalesce import LONGEST, SHORTEST, Coalescer
from .commands import ControlCommands, job_row
from .protocol import (
    EVENTS,
    MAX_BUFFERED_REQUESTS,
    MAX_REQUEST_LINE,
    ControlError,
    decode,
    encode,
    instant,
    record_to_dict,
    request_id,
    run_to_dict,
)
from .stats import SchedulerStats

if TYPE_CHECKING:
    from ...records import RunRecord
    from ...scheduler import Job, TaskScheduler
    from ..reload.diff import ReloadResult

logger = logging.getLogger("sts.control")

#: A subscriber that lets this much unsent data pile up is too slow to follow and is
#: disconnected, so that it cannot make the scheduler's memory grow without bound. (A
#: terminal UI loading 10,000 rows stops reading for seconds on a busy machine while a
#: burst of 20,000 events, each with its job row, piles up: 16 MiB dropped it.)
MAX_PENDING_BYTES = 64 * 1024 * 1024
#: The longest path a Unix socket can bind to on Linux (108 bytes with the final NUL).
MAX_SOCKET_PATH = 107
#: Stored runs read at start to show each job's last outcome.
SEED_HISTORY = 10_000
#: How much a connection reads at a time (and what its reader buffers before pausing).
READ_CHUNK = 64 * 1024
#: The servers listening now, by their scheduler's id: the ``sts_scheduler_stopping`` hook
#: finds its scheduler's server here to tell the subscribers.
_LISTENING: dict[int, ControlServer] = {}


def announce_stopping(scheduler: TaskScheduler) -> None:
    """Tell the subscribers of ``scheduler``'s control server that it stops firing (it
    may still wait for its runs before the socket closes)."""
    server = _LISTENING.get(id(scheduler))
    if server is not None:
        server.stopping()


class _RequestBudget:
    """Bytes of unfinished request lines held for all connections together."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.total:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


class _Connection:
    """One client: its writer, its subscription, and its requests under way."""

    def __init__(self, writer: asyncio.StreamWriter, max_pending_bytes: int) -> None:
        self.writer = writer
        self.max_pending_bytes = max_pending_bytes
        self.events: frozenset[str] = frozenset()
        self.requests: set[asyncio.Task[None]] = set()
        #: Set while the rest of a refused (too long) request line is being skipped.
        self.skipping = False
        #: Collects the events of a ``subscribe`` with ``coalesce``; None: each at once.
        self.coalescer: Coalescer | None = None

    def deliver(self, event: str, data: dict[str, Any], line: bytes) -> None:
        """An event: at once as ``line``, or into the next batch."""
        if self.coalescer is None:
            self.send(line)
        else:
            self.coalescer.add(event, data)

    def subscribe(self, events: frozenset[str], coalesce: float | None) -> None:
        self.events = events
        if self.coalescer is not None:
            self.coalescer.flush()  # what was collected goes out before the answer
            self.coalescer = None
        if coalesce is not None:
            self.coalescer = Coalescer(coalesce, self.send)

    def closed(self) -> None:
        if self.coalescer is not None:
            self.coalescer.close()

    def send(self, line: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(line)
        if self.writer.transport.get_write_buffer_size() > self.max_pending_bytes:
            logger.warning("control client too slow to follow the events: disconnected")
            self.writer.transport.abort()  # close() would wait to send what piled up


class ControlServer:
    """Listens on ``path`` for one scheduler, as an async context manager that wraps it
    from outside: ``async with ControlServer(scheduler, path), scheduler: ...`` binds the
    socket before the first fire and closes it after the last run. (``TaskScheduler(
    control_socket=...)`` does the same through the service's built-in plugin.)

    :param max_pending_bytes: unsent bytes past which a subscriber that does not read is
        disconnected (:data:`MAX_PENDING_BYTES` by default; tests of clients lower it).
    """

    def __init__(
        self,
        scheduler: TaskScheduler,
        path: Path,
        *,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.scheduler = scheduler
        self.path = path
        self.max_pending_bytes = max_pending_bytes
        self.stats = SchedulerStats()
        self.commands = ControlCommands(scheduler, self.stats)
        self._connections: set[_Connection] = set()
        self._subscribers: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._inode: int | None = None
        self._bind_lock: ExclusiveLock | None = None
        self._budget = _RequestBudget(MAX_BUFFERED_REQUESTS)

    async def start(self) -> None:
        # The listener goes first: the fire loop may fire while the socket is being bound.
        self.scheduler.add_listener(self._on_event)
        reloader = reloader_of(self.scheduler)
        if reloader is not None:
            reloader.listeners.append(self._on_reloaded)
        # On a thread: the read may wait for the writer and the file's busy timeout (§5).
        history = await asyncio.to_thread(self.scheduler.store.history, limit=SEED_HISTORY)
        for record in history:  # newest first: a job's newest record is its last outcome
            self.stats.seed(record)
        try:
            self._bind_lock = _claim_socket_path(self.path)
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=READ_CHUNK
            )
            os.chmod(self.path, 0o600)
            self._inode = self.path.stat().st_ino
        except BaseException:
            self.scheduler.remove_listener(self._on_event)
            if reloader is not None:
                reloader.listeners.remove(self._on_reloaded)
            if self._server is not None:
                self._server.close()
            if self._bind_lock is not None:
                self._bind_lock.release()
            raise
        facts_of(self.scheduler).socket = str(self.path)  # for the start-up line
        _LISTENING[id(self.scheduler)] = self
        logger.info("control socket listening on %s", self.path)

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop listening, disconnect every client and remove the socket file."""
        self.scheduler.remove_listener(self._on_event)
        if _LISTENING.get(id(self.scheduler)) is self:
            del _LISTENING[id(self.scheduler)]
        reloader = reloader_of(self.scheduler)
        if reloader is not None and self._on_reloaded in reloader.listeners:
            reloader.listeners.remove(self._on_reloaded)
        facts = facts_of(self.scheduler)
        if facts.socket == str(self.path):
            facts.socket = None
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            for request in connection.requests:
                request.cancel()
            # abort, not close: a client that stopped reading must not hold up the stop.
            connection.writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(OSError):
            if self._inode is not None and self.path.stat().st_ino == self._inode:
                self.path.unlink()
        if self._bind_lock is not None:
            self._bind_lock.release()  # after the unlink: the next scheduler binds afresh

    # -- events -----------------------------------------------------------------------------

    def _on_event(self, event: str, **facts: Any) -> None:
        now = self.scheduler.clock.timestamp()
        self.stats.revision += 1  # before the event's row is built: it carries the new one
        if event == "run_started":
            run = facts["run"]
            self.stats.run_started(run, now, self.scheduler.started_at)
            if self._subscribers:
                self._publish(event, {"run": run_to_dict(run), "job": self._row(run.job)})
        elif event == "run_finished":
            record = facts["record"]
            self.stats.run_finished(record, now)
            if self._subscribers:
                data = {"record": record_to_dict(record), "job": self._finishing_row(record)}
                self._publish(event, data)
        elif event == "job_changed":
            job: Job = facts["job"]
            change: str = facts["change"]
            if change in ("added", "removed"):
                self.stats.generation += 1
            if self._subscribers:
                self._publish(event, {"change": change, "job": self._row_of(job)})
            if change == "removed":
                self.stats.forget(job.name)

    def stopping(self) -> None:
        """The scheduler stops firing: say when, before it waits for its runs."""
        if self._subscribers:
            scheduler = self.scheduler
            data = {
                "at": instant(scheduler.clock.now()),
                "runs_in_flight": scheduler.runs_in_flight,
            }
            self._publish("scheduler_stopping", data)

    def _on_reloaded(self, result: ReloadResult) -> None:
        if self._subscribers:
            self._publish("reloaded", result.to_dict())

    def _row(self, name: str) -> dict[str, Any] | None:
        try:
            return job_row(self.scheduler.get_job(name), self.stats, self.scheduler.timezone)
        except KeyError:  # removed meanwhile
            return None

    def _finishing_row(self, record: RunRecord) -> dict[str, Any] | None:
        # The record is published from inside the run's task, which leaves the job's
        # running set only afterwards: count it out unless another attempt follows.
        try:
            job = self.scheduler.get_job(record.job)
        except KeyError:
            return None
        ending = int(
            record.retry_at is None
            and job.running is not None
            and asyncio.current_task() in job.running
        )
        return job_row(job, self.stats, self.scheduler.timezone, ending=ending)

    def _row_of(self, job: Job) -> dict[str, Any]:
        return job_row(job, self.stats, self.scheduler.timezone)

    def _publish(self, event: str, data: dict[str, Any]) -> None:
        line = encode({"event": event, "data": data})
        for connection in list(self._subscribers):
            if event in connection.events:
                connection.deliver(event, data, line)

    # -- connections ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer, self.max_pending_bytes)
        self._connections.add(connection)
        line = bytearray()
        try:
            while True:
                try:
                    chunk = await reader.read(READ_CHUNK)
                except ConnectionError:
                    break
                if not chunk:
                    break
                self._take_lines(connection, line, chunk)
        finally:
            self._budget.give(len(line))
            self._connections.discard(connection)
            self._subscribers.discard(connection)
            connection.closed()
            for request in connection.requests:
                request.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _take_lines(self, connection: _Connection, line: bytearray, chunk: bytes) -> None:
        """Add ``chunk`` to the connection's unfinished ``line``, dispatching each line it
        completes. A line that grows beyond the limits is answered with an error and the rest
        of it is skipped; the connection stays usable."""
        start = 0
        while start <= len(chunk):
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if connection.skipping:
                pass
            elif len(line) + len(piece) > MAX_REQUEST_LINE:
                self._refuse_line(connection, line, "too_large", _TOO_LARGE)
            elif not self._budget.take(len(piece)):
                self._refuse_line(connection, line, "overloaded", _OVERLOADED)
            else:
                line += piece
            if end < 0:
                return
            if not connection.skipping and line.strip():
                self._dispatch(connection, bytes(line))
            self._budget.give(len(line))
            line.clear()
            connection.skipping = False
            start = end + 1

    def _refuse_line(
        self, connection: _Connection, line: bytearray, code: str, message: str
    ) -> None:
        connection.send(_error(None, code, message))
        connection.skipping = True
        self._budget.give(len(line))
        line.clear()

    def _dispatch(self, connection: _Connection, line: bytes) -> None:
        identifier: str | int | None = None
        try:
            message = decode(line)
            identifier = request_id(message)
            command = message.get("command")
            if not isinstance(command, str):
                raise ControlError("bad_request", "a request needs a 'command' string")
            arguments = message.get("arguments", {})
            if command in ("subscribe", "unsubscribe"):
                # Answered inline, so the answer precedes the first event on the line.
                connection.send(
                    _answer(identifier, self._subscribe(connection, command, arguments))
                )
                return
        except ControlError as error:
            connection.send(_error(identifier, error.code, error.message))
            return
        task = asyncio.get_running_loop().create_task(
            self._answer(connection, identifier, command, arguments)
        )
        connection.requests.add(task)
        task.add_done_callback(connection.requests.discard)

    async def _answer(
        self, connection: _Connection, identifier: str | int | None, command: str, arguments: Any
    ) -> None:
        try:
            result = await self.commands.handle(command, arguments)
        except ControlError as error:
            connection.send(_error(identifier, error.code, error.message))
        except Exception as error:  # a bug must not end the connection, let alone the server
            logger.exception("control command %r failed", command)
            # The one redaction point, as for the sinks: an error text may quote a secret.
            text = redact(f"{type(error).__name__}: {error}")
            connection.send(_error(identifier, "internal", text))
        else:
            connection.send(_answer(identifier, result))

    def _subscribe(self, connection: _Connection, command: str, arguments: Any) -> dict[str, Any]:
        if command == "unsubscribe":
            connection.subscribe(frozenset(), None)
            self._subscribers.discard(connection)
            return {"subscribed": []}
        wanted = arguments.get("events", list(EVENTS)) if isinstance(arguments, dict) else None
        if not isinstance(wanted, list) or not all(name in EVENTS for name in wanted):
            raise ControlError(
                "bad_argument",
                f"the argument 'events' of 'subscribe' must be a list of event names from "
                f"{', '.join(EVENTS)}, got {wanted!r}",
            )
        coalesce = arguments.get("coalesce")
        if coalesce is not None and (
            isinstance(coalesce, bool)
            or not isinstance(coalesce, int | float)
            or not SHORTEST <= coalesce <= LONGEST
        ):
            raise ControlError(
                "bad_argument",
                f"the argument 'coalesce' of 'subscribe' must be a number of seconds from "
                f"{SHORTEST:g} to {LONGEST:g}, got {coalesce!r}",
            )
        connection.subscribe(frozenset(wanted), None if coalesce is None else float(coalesce))
        self._subscribers.add(connection)
        result: dict[str, Any] = {"subscribed": sorted(connection.events)}
        if coalesce is not None:
            result["coalesce"] = float(coalesce)
        return result


_TOO_LARGE = (
    f"the request line is longer than {MAX_REQUEST_LINE // 1024} KiB; it was skipped "
    f"up to its end"
)
_OVERLOADED = (
    f"the scheduler already holds {MAX_BUFFERED_REQUESTS // (1024 * 1024)} MiB of unfinished "
    f"requests from its clients; this line was skipped up to its end: send it again later"
)


def _answer(identifier: str | int | None, result: dict[str, Any]) -> bytes:
    return encode({"id": identifier, "ok": True, "result": result})


def _error(identifier: str | int | None, code: str, message: str) -> bytes:
    return encode({"id": identifier, "ok": False, "error": {"code": code, "message": message}})


class ControlSocketInUse(RuntimeError):
    """Another scheduler answers on the socket: a second ``sts run`` of one scheduler."""


def _claim_socket_path(path: Path) -> ExclusiveLock:
    """Make room for the socket, race-free: lock ``<path>.lock`` (held while the server
    listens), then remove a socket nobody listens on; never steal a live one.

    Without the lock, two schedulers started together could each find the path free (or
    a stale socket, which asyncio also unlinks before binding) and both bind, the second
    unlinking the first's live socket.
    """
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ValueError(
            f"the control socket path {str(path)!r} is {len(os.fsencode(path))} bytes long; "
            f"a Unix socket path may have at most {MAX_SOCKET_PATH}: choose a shorter one"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = ExclusiveLock(Path(f"{path}.lock"))
    try:
        lock.acquire()
    except LockHeld as held:
        raise ControlSocketInUse(
            f"another scheduler already listens on the control socket {str(path)!r} "
            f"({held.holder}); stop it, or give this one another name or control_socket path"
        ) from None
    try:
        _remove_stale_socket(path)
    except BaseException:
        lock.release()
        raise
    return lock


def _remove_stale_socket(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(
            f"the control socket path {str(path)!r} exists and is not a socket; "
            f"remove it or choose another path"
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)  # left behind by a process that died
        return
    finally:
        probe.close()
    raise ControlSocketInUse(
        f"another scheduler already listens on the control socket {str(path)!r}; stop it, "
        f"or give this one another name or control_socket path"
    )


def control_server(scheduler: TaskScheduler, path: str | os.PathLike[str] | bool) -> ControlServer:
    """A control server for ``scheduler`` on ``path``, not started yet.

    :param path: the socket's path; ``True`` for ``<user runtime dir>/sts/<name>.sock``.
    """
    if path is True:
        from ..paths import control_socket

        resolved = control_socket(scheduler.name)
    elif path is False:
        raise ValueError("a control server needs a path or True, got False")
    else:
        resolved = Path(os.fspath(path))
    return ControlServer(scheduler, resolved)


async def start_control_server(
    scheduler: TaskScheduler, path: str | os.PathLike[str] | bool
) -> ControlServer:
    """Start answering the control protocol for ``scheduler`` on ``path``.

    :param path: the socket's path; ``True`` for ``<user runtime dir>/sts/<name>.sock``.
    :raises ControlSocketInUse: when another scheduler already listens there.
    """
    server = control_server(scheduler, path)
    await server.start()
    return server

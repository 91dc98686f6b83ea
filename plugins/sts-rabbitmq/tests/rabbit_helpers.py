"""Helpers of the sts-rabbitmq tests: a namespace of queue names on the machine's broker
(deleted after the test), a TCP proxy that can cut the connections to the broker (a broker
outage seen from one process, without stopping a broker other tests may share), and
`sts run` / `sts worker` processes on a config file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika

BROKER_HOST = os.environ.get("STS_TEST_RABBITMQ_HOST", "127.0.0.1")
BROKER_PORT = int(os.environ.get("STS_TEST_RABBITMQ_PORT", "5672"))
BROKER_URL = f"amqp://guest:guest@{BROKER_HOST}:{BROKER_PORT}/"


def broker_available() -> bool:
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=2):
            return True
    except OSError:
        return False


@dataclass
class Namespace:
    """Unique names for one test: its exchanges and queues start with ``prefix``."""

    prefix: str = field(default_factory=lambda: f"sts-test-{uuid.uuid4().hex[:10]}")
    pools: set[str] = field(default_factory=lambda: {"default"})
    schedulers: set[str] = field(default_factory=set)

    def scheduler_name(self) -> str:
        name = f"s{uuid.uuid4().hex[:8]}"
        self.schedulers.add(name)
        return name

    def queues(self) -> list[str]:
        return [
            *(f"{self.prefix}.fires.{pool}" for pool in self.pools),
            *(f"{self.prefix}.outcomes.{name}" for name in self.schedulers),
            f"{self.prefix}.dead",
        ]

    def exchanges(self) -> list[str]:
        return [f"{self.prefix}.fires", f"{self.prefix}.dead"]

    async def delete(self) -> None:
        connection = await aio_pika.connect(BROKER_URL)
        async with connection:
            for name in self.queues():
                channel = await connection.channel()
                # One never declared closes its channel: each gets a fresh one.
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
            for name in self.exchanges():
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    await channel.exchange_delete(name)

    async def dead_letter_count(self) -> int:
        connection = await aio_pika.connect(BROKER_URL)
        async with connection:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(f"{self.prefix}.dead", passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                return 0  # not declared yet
            count = queue.declaration_result.message_count
            return int(count or 0)

    async def dead_letters(self) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """Every message in the dead-letter queue (taken off it)."""
        connection = await aio_pika.connect(BROKER_URL)
        taken = []
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(f"{self.prefix}.dead", ensure=False)
            while True:
                message = await queue.get(fail=False, no_ack=True)
                if message is None:
                    return taken
                taken.append(message)


class CuttableProxy:
    """A TCP proxy to the broker on a free loopback port, in its own thread. ``cut()``
    closes every connection through it and refuses new ones until ``restore()``."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._open = True
        self._server: asyncio.base_events.Server | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait()
        assert self._server is not None
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._accept, "127.0.0.1", 0)
        )
        ready.set()
        self._loop.run_forever()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(BROKER_HOST, BROKER_PORT)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def _call(self, function: Callable[[], None]) -> None:
        done = threading.Event()

        def run() -> None:
            function()
            done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait()

    def cut(self) -> None:
        def cut() -> None:
            self._open = False
            for writer in list(self._writers):
                transport = writer.transport
                transport.abort()

        self._call(cut)

    def restore(self) -> None:
        def restore() -> None:
            self._open = True

        self._call(restore)

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def write_config(
    directory: Path,
    namespace: Namespace,
    jobs: str,
    *,
    url: str = BROKER_URL,
    scheduler: str | None = None,
    extra: str = "",
    state: str = "",
    name: str = "sts.ini",
) -> Path:
    """A config file with ``[scheduler]`` (executor = rabbitmq, SQLite state in
    ``directory``), ``[rabbitmq]`` on the namespace, and ``jobs`` (``[job:...]`` text)."""
    scheduler = scheduler or namespace.scheduler_name()
    path = directory / name
    path.write_text(
        f"[scheduler]\nname = {scheduler}\nexecutor = rabbitmq\nstop_grace = 5s\n"
        f"loop_block_threshold = none\n"
        f"[state]\npath = {directory / (scheduler + '.db')}\n{state}\n"
        f"[rabbitmq]\nurl = {url}\nprefix = {namespace.prefix}\nbackstop = 5s\n"
        f"claim_timeout = 2s\n{extra}\n{jobs}\n"
    )
    return path


def burst_jobs(count: int, at: str, policies: str) -> str:
    """``count`` jobs of ``rabbit_jobs:slow`` runs, all due at ``at``: a burst that goes
    out in few messages."""
    return "".join(
        f"[job:j{number:02d}]\ntype = python\ncallable = rabbit_jobs:slow\n"
        f"schedule = at {at}\n{policies}"
        for number in range(count)
    )


def seconds_from_now(seconds: float) -> str:
    """The ISO time ``seconds`` from now, for ``schedule = at``."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def sts_command(
    *arguments: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    wrapper: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """``sts ARGUMENTS`` as a process of its own (a process group, to be killed whole),
    run by ``wrapper`` if given (``unshare --pid --fork``: as pid 1 of a namespace)."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(cwd), *filter(None, [environment.get("PYTHONPATH")])]
    )
    return subprocess.Popen(
        [*wrapper, sys.executable, "-m", "sts", *arguments],
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=open(cwd / f"{arguments[0]}-{uuid.uuid4().hex[:6]}.log", "wb"),
        start_new_session=True,
    )


def start_workers(
    config: Path,
    cwd: Path,
    concurrency: int,
    *,
    count: int = 2,
    env: dict[str, str] | None = None,
) -> list[subprocess.Popen[bytes]]:
    """``count`` ``sts worker CONFIG --concurrency N`` processes."""
    return [
        sts_command("worker", str(config), "--concurrency", str(concurrency), cwd=cwd, env=env)
        for _ in range(count)
    ]


def stop(processes: Iterable[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM each process, then SIGKILL what is left after ``timeout``."""
    alive = [process for process in processes if process.poll() is None]
    for process in alive:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in alive:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` (a
    bound against hanging forever, far above the expected time, never a speed check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:g}s")
        time.sleep(0.1)


@dataclass(frozen=True)
class Line:
    """A line a test job wrote: which fire, where, and whether it started or ended."""

    key: str
    worker: str
    redelivered: bool
    attempt: int
    state: str


def lines(path: Path, state: str = "end") -> list[Line]:
    if not path.exists():
        return []
    found = []
    for text in path.read_text().splitlines():
        key, worker, redelivered, attempt, written = text.split("\t")
        if written == state:
            found.append(Line(key, worker, redelivered == "1", int(attempt), written))
    return found


def records(database: Path) -> list[dict[str, object]]:
    """Every run record in a stopped scheduler's SQLite state file."""
    import json
    import sqlite3

    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute("SELECT * FROM runs ORDER BY seq").fetchall()
        in_flight = connection.execute("SELECT COUNT(*) FROM runs_in_flight").fetchone()[0]
    assert in_flight == 0, f"{in_flight} run(s) left in flight in {database}"
    found = []
    for row in rows:
        record = dict(row)
        record["output"] = json.loads(row["output"]) if row["output"] else {}
        found.append(record)
    return found


def recorded_count(state: Path) -> int:
    """How many runs a running scheduler's SQLite state file holds."""
    import sqlite3

    if not state.exists():
        return 0
    with sqlite3.connect(state) as connection:
        try:
            return int(connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        except sqlite3.OperationalError as error:
            # The scheduler has made the file, not yet its tables (CI saw this once).
            if "no such table" in str(error):
                return 0
            raise


def fire_key(record: dict[str, object]) -> str:
    """A record's fire as ``job@<UTC time>``, one per fire whatever the attempt."""
    fire = datetime.fromisoformat(str(record["fire_time"])).astimezone(UTC).isoformat()
    return f"{record['job']}@{fire}"


def broker_accepts() -> bool:
    """Whether the machine's broker takes an AMQP connection (not just a TCP one: the
    port opens before the broker's application has started)."""

    async def connect() -> bool:
        try:
            connection = await aio_pika.connect(BROKER_URL, timeout=2)
        except Exception:
            return False
        await connection.close()
        return True

    return asyncio.run(connect())


def restart_broker(down: float) -> None:
    """Stop the broker's application for ``down`` seconds (``rabbitmqctl stop_app``: every
    connection closes), then start it again, even when stopping failed halfway, and
    return once it accepts connections again."""
    try:
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=60)
        time.sleep(down)
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
        wait_for(broker_accepts, "the broker to accept connections again", 120)

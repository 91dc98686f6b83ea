"""Shared by the sts-webhook tests: a real HTTP(S) server on loopback that answers from a
script and keeps what it received, and a real scheduler to run webhooks on."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sts
from sts.testing import VirtualClock


@dataclass
class Reply:
    """One scripted answer. ``hold`` keeps the client waiting that many real seconds (or
    until the server stops) before answering; ``echo`` answers with the request's headers."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hold: float = 0.0
    echo: bool = False


@dataclass
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int]


class ScriptedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1: each request gets the next scripted reply
    (then ``default``) and is kept in ``seen``."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.seen: list[Seen] = []
        #: Replies by path (before the script): a path that always answers the same.
        self.routes: dict[str, Reply] = {}
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen.append(
                    Seen(
                        self.command,
                        self.path,
                        {key.lower(): value for key, value in self.headers.items()},
                        body,
                        self.client_address,
                    )
                )
                reply = server.routes.get(self.path.partition("?")[0])
                if reply is None:
                    reply = server.script.popleft() if server.script else server.default
                if reply.hold:
                    server.released.wait(reply.hold)
                payload = reply.body
                if reply.echo:
                    payload = "\n".join(f"{k}: {v}" for k, v in self.headers.items()).encode()
                self.send_response_only(reply.status)
                if "Date" not in reply.headers:  # a scripted Date replaces the real one
                    self.send_header("Date", self.date_time_string())
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        scheme = "https" if context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def at(self, path: str) -> list[Seen]:
        """The requests received for ``path``."""
        return [seen for seen in self.seen if seen.path.partition("?")[0] == path]

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class TLSServer:
    server: ScriptedServer
    ca_file: Path


RunJob = Callable[..., Coroutine[Any, Any, tuple[sts.RunRecord, list[sts.RunRecord]]]]


def make_clock() -> VirtualClock:
    # Real I/O with the server thread goes first; only real idleness (a backoff) jumps.
    return VirtualClock(autojump_threshold=0.2)


async def run_once(
    task: sts.Task, *, clock: VirtualClock | None = None, **policy: Any
) -> tuple[sts.RunRecord, list[sts.RunRecord]]:
    """Run ``task`` once now on a real scheduler, retries included; its final record and
    its history, oldest first."""
    async with sts.TaskScheduler(name="webhook-test", clock=clock) as scheduler:
        job = scheduler.schedule(task, sts.IntervalTrigger("1d"), **policy)
        record = await asyncio.wrap_future(scheduler.run_now(job))
        history = list(reversed(scheduler.store.history(job.name)))
    return record, history


def run_on_virtual_clock(
    task: sts.Task, **policy: Any
) -> tuple[sts.RunRecord, list[sts.RunRecord], VirtualClock]:
    clock = make_clock()
    record, history = clock.run(run_once(task, clock=clock, **policy))
    return record, history, clock

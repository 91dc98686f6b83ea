"""Hostile control clients: every limit is answered with a documented error code on a
connection that goes on, never a dropped connection, a traceback or unbounded memory."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from control_helpers import answers, running_scheduler, short_socket_dir, succeed

import sts

MiB = 1024 * 1024
#: The limits docs/control-protocol.md documents.
MAX_REQUEST_LINE = 1 * MiB
MAX_BUFFERED_REQUESTS = 64 * MiB


def _hourly(scheduler: sts.TaskScheduler) -> None:
    scheduler.schedule(sts.FunctionTask(succeed, name="hourly"), "every 1h", name="hourly")


@contextmanager
def _connection(path: Path) -> Iterator[tuple[socket.socket, Any]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(20)
        connection.connect(str(path))
        with connection.makefile("rb") as lines:
            yield connection, lines


def _answer(lines: Any) -> dict[str, Any]:
    line = lines.readline()
    assert line, "the scheduler closed the connection"
    answer: dict[str, Any] = json.loads(line, parse_constant=_not_json)
    return answer


def _not_json(constant: str) -> None:
    raise AssertionError(f"the scheduler sent {constant}, which is not JSON")


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "too_deep"),
        (b'{"id": 1, "command": "jobs", "arguments": ' + b"[" * 40 + b"]" * 40 + b"}", "too_deep"),
        (b'{"id": ' + b"9" * 5000 + b', "command": "hello"}', "bad_number"),
        (b'{"id": ' + b"9" * 40 + b', "command": "hello"}', "bad_number"),
        (b'{"id": NaN, "command": "hello"}', "bad_number"),
        (b'{"id": -Infinity, "command": "hello"}', "bad_number"),
        (b'{"id": 1e999, "command": "hello"}', "bad_number"),
        (b'{"id": {"a": 1}, "command": "hello"}', "bad_request"),
        (
            b'{"id": 3, "command": "plan", "arguments": '
            b'{"job": "hourly", "since": "9999-12-31T23:30:00+00:00"}}',
            "out_of_range",
        ),
        (
            b'{"id": 3, "command": "plan", "arguments": '
            b'{"job": "hourly", "since": "0001-01-01T00:30:00+05:00"}}',
            "out_of_range",
        ),
    ],
    ids=[
        "200000-deep",
        "41-deep-arguments",
        "5000-digit-id",
        "40-digit-id",
        "NaN-id",
        "infinite-id",
        "overflowing-float-id",
        "object-id",
        "plan-since-9999",
        "plan-since-year-1",
    ],
)
def test_a_hostile_line_gets_its_error_code_and_the_connection_goes_on(
    line: bytes, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sts")
    with running_scheduler(_hourly) as (_, path), _connection(path) as (connection, lines):
        connection.sendall(line + b"\n" + json.dumps({"id": 7, "command": "stats"}).encode())
        connection.sendall(b"\n")
        first = _answer(lines)
        second = _answer(lines)
    assert first["ok"] is False and first["error"]["code"] == code, first
    assert first["id"] in (None, 3)
    assert second["id"] == 7 and second["ok"] is True
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"


SERVER = """
import sys, sts
scheduler = sts.TaskScheduler(name="limits", control_socket=sys.argv[1], timezone="UTC")
scheduler.schedule(sts.FunctionTask(lambda: None, name="hourly"), "every 1h", name="hourly")
scheduler.run()
"""


@contextmanager
def _scheduler_process(path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(path)])
    try:
        deadline = time.monotonic() + 30
        while not answers(path):  # the socket file exists a moment before it listens
            assert process.poll() is None and time.monotonic() < deadline, "no socket"
            time.sleep(0.02)
        yield process
    finally:
        process.kill()
        process.wait()


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


def test_five_clients_sending_60_mb_lines_are_refused_without_the_memory() -> None:
    with short_socket_dir() as directory, _scheduler_process(directory / "c.sock") as process:
        with ExitStack() as stack:
            clients = [stack.enter_context(_connection(directory / "c.sock")) for _ in range(5)]
            block = b"x" * MiB
            for _ in range(60):
                for connection, _lines in clients:
                    connection.sendall(block)
            replies = []
            for number, (connection, lines) in enumerate(clients):
                connection.sendall(b"\n" + json.dumps({"id": number, "command": "hello"}).encode())
                connection.sendall(b"\n")
                replies.append((_answer(lines), _answer(lines)))
        peak = _peak_rss_mib(process.pid)
    for number, (refused, hello) in enumerate(replies):
        assert refused["error"]["code"] == "too_large", refused
        assert hello["id"] == number and hello["ok"] is True
    # 631 MiB before the limit; now a few request lines at most, plus the interpreter.
    assert peak < 150, f"peak RSS {peak:.0f} MiB"


def test_unfinished_lines_of_all_clients_together_are_bounded() -> None:
    almost = MAX_REQUEST_LINE - 4096
    count = MAX_BUFFERED_REQUESTS // almost + 8
    with short_socket_dir() as directory, _scheduler_process(directory / "c.sock") as process:
        with ExitStack() as stack:
            clients = [stack.enter_context(_connection(directory / "c.sock")) for _ in range(count)]
            for number, (connection, _lines) in enumerate(clients):
                start = json.dumps({"id": number, "command": "hello", "pad": ""})[:-2]
                connection.sendall(start.encode() + b"x" * almost)
            time.sleep(0.5)  # every client's bytes reach the scheduler before any line ends
            outcomes: dict[str, int] = {}
            for number, (connection, lines) in enumerate(clients):
                connection.sendall(b'"}\n')
                answer = _answer(lines)
                key = "ok" if answer["ok"] else answer["error"]["code"]
                outcomes[key] = outcomes.get(key, 0) + 1
                if not answer["ok"]:  # refused: the connection goes on
                    connection.sendall(json.dumps({"id": number, "command": "hello"}).encode())
                    connection.sendall(b"\n")
                    assert _answer(lines)["ok"] is True
        peak = _peak_rss_mib(process.pid)
    assert outcomes.get("overloaded", 0) >= 1, outcomes
    assert outcomes.get("ok", 0) + outcomes["overloaded"] == count, outcomes
    assert peak < 64 + MAX_BUFFERED_REQUESTS / MiB, f"peak RSS {peak:.0f} MiB"

"""A command's output: streamed to the log line by line, and its tail kept, in bounded memory.

Output is handled chunk by chunk as the pipes deliver it, never gathered into whole lines,
so a command that prints gigabytes (or one endless line) costs at most a chunk, the tail,
and one log line of memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

#: A longer line goes to the log in pieces of this many bytes.
LOG_LINE_LIMIT = 8 * 1024

Mask = Callable[[str], str]


class OutputTail:
    """The last ``limit`` bytes of a stream, and how many bytes came in all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._buffer = bytearray()

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.limit == 0:
            return
        if len(chunk) >= self.limit:
            self._buffer[:] = chunk[-self.limit :]
            return
        self._buffer += chunk
        excess = len(self._buffer) - self.limit
        if excess > 0:
            # Deleting from the front of a bytearray is cheap (CPython moves its start).
            del self._buffer[:excess]

    @property
    def dropped(self) -> int:
        """How many earlier bytes were not kept."""
        return self.total - len(self._buffer)

    def text(self, mask: Mask) -> str:
        """The tail as text (invalid UTF-8 replaced), with a note when bytes were dropped."""
        text = mask(self._buffer.decode("utf-8", "replace"))
        if self.dropped:
            return f"[{self.dropped} earlier bytes not kept]\n{text}"
        return text

    def last_line(self, mask: Mask) -> str:
        """The last non-empty line, for an error message."""
        for line in reversed(self._buffer.decode("utf-8", "replace").splitlines()):
            if line.strip():
                return mask(line.strip())[:200]
        return ""


class LineLogger:
    """Logs a stream line by line, tagged with the job, the run id and the stream name."""

    def __init__(
        self, logger: logging.Logger, stream: str, job: str, run_id: str, mask: Mask
    ) -> None:
        self.logger = logger
        self.stream = stream
        self.job = job
        self.run_id = run_id
        self.mask = mask
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            self._partial.clear()
            return
        self._partial += chunk
        *lines, rest = self._partial.split(b"\n")
        for line in lines:
            self._emit(line)
        self._partial = rest
        while len(self._partial) > LOG_LINE_LIMIT:
            self._emit(self._partial[:LOG_LINE_LIMIT])
            del self._partial[:LOG_LINE_LIMIT]

    def close(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial.clear()

    def _emit(self, line: bytes | bytearray) -> None:
        for start in range(0, max(len(line), 1), LOG_LINE_LIMIT):
            piece = line[start : start + LOG_LINE_LIMIT].rstrip(b"\r")
            self.logger.info(
                "job=%s run=%s %s: %s",
                self.job,
                self.run_id,
                self.stream,
                self.mask(piece.decode("utf-8", "replace")),
                extra={"job": self.job, "run_id": self.run_id, "stream": self.stream},
            )


class CommandProtocol(asyncio.SubprocessProtocol):
    """Takes a command's output as it arrives, and notices when the command exits.

    A protocol rather than ``Process.wait()``: in Python 3.11 ``wait()`` also waits for the
    pipes to close, which a leftover grandchild can keep open for as long as it lives.

    :param streams: per file descriptor (1, 2), the tail and the line logger it feeds.
    """

    def __init__(self, streams: dict[int, tuple[OutputTail, LineLogger]]) -> None:
        loop = asyncio.get_running_loop()
        self.streams = streams
        self.exited: asyncio.Future[None] = loop.create_future()
        self._closed = {fd: loop.create_future() for fd in streams}

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        tail, lines = self.streams[fd]
        tail.add(data)
        lines.feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        closed = self._closed.get(fd)
        if closed is not None and not closed.done():
            self.streams[fd][1].close()
            closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    async def output_closed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the end of every output stream."""
        _, pending = await asyncio.wait(self._closed.values(), timeout=timeout)
        return not pending

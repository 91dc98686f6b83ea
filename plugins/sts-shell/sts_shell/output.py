"""A command's output: streamed to the log line by line, and its tail kept, in bounded memory.

Output is read in chunks, never as whole lines, so a command that prints gigabytes (or
one endless line) costs at most a chunk, the tail, and one log line of memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

#: Bytes read from a pipe at a time.
CHUNK_SIZE = 64 * 1024
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


async def pump(reader: asyncio.StreamReader, tail: OutputTail, lines: LineLogger) -> None:
    """Read ``reader`` to its end into ``tail`` and ``lines``."""
    while chunk := await reader.read(CHUNK_SIZE):
        tail.add(chunk)
        lines.feed(chunk)
    lines.close()

"""A command's output: streamed to the log line by line, and its tail kept, in bounded memory.

Output is handled chunk by chunk as the pipes deliver it, never gathered into whole lines,
so a command that prints gigabytes (or one endless line) costs at most a chunk, the tail,
and one log line of memory.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections.abc import Callable

import sts

#: A longer line goes to the log in pieces of this many characters.
LOG_LINE_LIMIT = 8 * 1024
#: A character is at most this many bytes of UTF-8.
UTF8_WIDTH = 4

Mask = Callable[[str], str]


class OutputTail:
    """The last ``limit`` bytes of a stream, and how many bytes came in all.

    :param margin: more bytes kept in front of the tail, so that a secret cut by the tail's
        start is recognised (and dropped) rather than shown in part.
    """

    def __init__(self, limit: int, margin: int = 0) -> None:
        self.limit = limit
        self.margin = margin if limit else 0
        self.total = 0
        self._buffer = bytearray()

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        keep = self.limit + self.margin
        if keep == 0:
            return
        if len(chunk) >= keep:
            self._buffer[:] = chunk[-keep:]
            return
        self._buffer += chunk
        excess = len(self._buffer) - keep
        if excess > 0:
            # Deleting from the front of a bytearray is cheap (CPython moves its start).
            del self._buffer[:excess]

    @property
    def dropped(self) -> int:
        """How many earlier bytes were not kept."""
        return self.total - min(len(self._buffer), self.limit)

    def _redacted(self, mask: Mask) -> str:
        # Redacted whole, before being cut: a secret is never half in and half out.
        text = mask(self._buffer.decode("utf-8", "replace"))
        if len(self._buffer) > self.limit:
            text = text[len(text) - self._characters_of_limit(text) :]
        return text

    def _characters_of_limit(self, text: str) -> int:
        # How many characters from the end make up (about) ``limit`` bytes.
        size = 0
        for count, character in enumerate(reversed(text)):
            size += len(character.encode("utf-8", "replace"))
            if size > self.limit:
                return count
        return len(text)

    def text(self, mask: Mask) -> str:
        """The tail as text (invalid UTF-8 replaced), with a note when bytes were dropped."""
        text = self._redacted(mask)
        if self.dropped:
            return f"[{self.dropped} earlier bytes not kept]\n{text}"
        return text

    def last_line(self, mask: Mask) -> str:
        """The last non-empty line, for an error message."""
        for line in reversed(self._redacted(mask).splitlines()):
            if line.strip():
                return line.strip()[:200]
        return ""


class LineLogger:
    """Logs a stream line by line, tagged with the job, the run id and the stream name.

    Secrets are redacted from the text before it is cut into lines and pieces, and the last
    :func:`sts.redaction_margin` characters are held back until more output (or the end)
    comes, so a secret split across reads, lines or pieces is never logged in part.

    :param log_limit: the bytes of output logged per run; beyond it the output is counted,
        not logged, and one line at the end says how much more there was.
    :param kept: how many bytes of the stream the run record keeps (for that line).
    """

    def __init__(
        self,
        logger: logging.Logger,
        stream: str,
        job: str,
        run_id: str,
        mask: Mask,
        *,
        log_limit: int | None = None,
        kept: int = 0,
    ) -> None:
        self.logger = logger
        self.stream = stream
        self.job = job
        self.run_id = run_id
        self.mask = mask
        self.log_limit = log_limit
        self.kept = kept
        self.logged = 0
        self.not_logged = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._text = ""
        self._silenced = False

    def feed(self, chunk: bytes) -> None:
        if self._silenced or not self.logger.isEnabledFor(logging.INFO):
            self.not_logged += len(chunk)
            return
        if self.log_limit is not None and self.logged + len(chunk) > self.log_limit:
            room = self.log_limit - self.logged
            self.not_logged += len(chunk) - room
            chunk = chunk[:room]
            self._silenced = True
        self.logged += len(chunk)
        self._text = self.mask(self._text + self._decoder.decode(chunk))
        if self._silenced:  # the limit is reached: what was held back goes out now
            self._flush()
        else:
            self._emit_until(len(self._text) - sts.redaction_margin())

    def close(self) -> None:
        """The stream ended: log what was held back, and how much was not logged."""
        self._flush()
        if self.not_logged and self.logger.isEnabledFor(logging.INFO):
            self.logger.info(
                "job=%s run=%s %s: ... %s more not logged (log_limit %s), kept the last %s "
                "in the run record",
                self.job,
                self.run_id,
                self.stream,
                human_size(self.not_logged),
                human_size(self.log_limit or 0),
                human_size(self.kept),
                extra={"job": self.job, "run_id": self.run_id, "stream": self.stream},
            )
        self.not_logged = 0

    def _flush(self) -> None:
        self._text = self.mask(self._text + self._decoder.decode(b"", final=True))
        if self._text:
            self._emit_until(len(self._text))
            if self._text:
                self._emit(self._text)
            self._text = ""

    def _emit_until(self, safe: int) -> None:
        """Log the complete lines (and long pieces) that end before ``safe``."""
        text, start = self._text, 0
        while True:
            end = text.find("\n", start, safe)
            if end < 0:
                break
            self._emit(text[start:end])
            start = end + 1
        while safe - start > LOG_LINE_LIMIT:
            self._emit(text[start : start + LOG_LINE_LIMIT])
            start += LOG_LINE_LIMIT
        self._text = text[start:]

    def _emit(self, line: str) -> None:
        for start in range(0, max(len(line), 1), LOG_LINE_LIMIT):
            self.logger.info(
                "job=%s run=%s %s: %s",
                self.job,
                self.run_id,
                self.stream,
                line[start : start + LOG_LINE_LIMIT].rstrip("\r"),
                extra={"job": self.job, "run_id": self.run_id, "stream": self.stream},
            )


def human_size(size: int) -> str:
    """``size`` bytes the way a person reads them: ``512 B``, ``64 KiB``, ``198 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 10 else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


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

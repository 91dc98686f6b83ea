"""Log sinks: stdlib ``logging`` handlers that the ``[logging]`` section chooses.

Built in (registered by ``sts_core.builtin`` through ``sts_register_log_sinks``):

- ``console``: human text on stderr, the level in colour on a terminal (``NO_COLOR`` off);
- ``file``: a rotating file in the user log dir, ``<scheduler name>.log``;
- ``json``: JSON lines on stdout (or a rotating file at ``path``), for log collectors.

Every sink redacts resolved secret values (``sts_core.redaction.redact``) from its formatted
output, in every encoded form (the JSON sink also redacts each field before encoding it). Sinks are
attached to the ``sts`` logger only, so an application's own logging setup keeps working.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from ..redaction import redact
from .logs import TEXT_FORMAT, parse_level
from .paths import log_directory

LogFormat = Literal["text", "json"]
FORMATS = ("text", "json")
#: Marks the handlers installed from a configuration, so reconfiguring replaces them.
SINK_MARK = "_sts_sink"
#: Marks the stderr handler :func:`configure_logging` adds when there is none.
DEFAULT_MARK = "_sts_default"

_COLOURS = {
    logging.DEBUG: "\x1b[2m",
    logging.INFO: "\x1b[36m",
    logging.WARNING: "\x1b[33m",
    logging.ERROR: "\x1b[31m",
    logging.CRITICAL: "\x1b[1;31m",
}
_RESET = "\x1b[0m"
#: Attributes every LogRecord has; any other attribute came from ``extra=`` and is kept.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class TextFormatter(logging.Formatter):
    """``time level logger: message``, secrets redacted, the level coloured if asked."""

    def __init__(self, *, colour: bool = False) -> None:
        super().__init__(TEXT_FORMAT)
        self.colour = colour

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        if self.colour and record.levelno in _COLOURS:
            text = text.replace(
                record.levelname, f"{_COLOURS[record.levelno]}{record.levelname}{_RESET}", 1
            )
        return text

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # The local time with its offset: lines stay unambiguous across a DST change and
        # comparable with a JSON sink's UTC times.
        moment = datetime.fromtimestamp(record.created).astimezone()
        return moment.isoformat(sep=" ", timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC), ``level``, ``logger``, ``message``, the
    ``exception`` if any, and every ``extra=`` field. Secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # redacted already (sts_core.redaction.redact_record)
            entry["exception"] = record.exc_text
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        # Text fields are redacted before encoding (json.dumps escapes quotes, backslashes
        # and newlines); the line again after, which catches the JSON-escaped forms in
        # nested fields.
        entry = {
            key: redact(value) if isinstance(value, str) else value for key, value in entry.items()
        }
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def make_formatter(format: str, *, colour: bool = False) -> logging.Formatter:
    """The formatter for ``format`` (``text`` or ``json``).

    :raises ValueError: naming the valid formats.
    """
    if format == "json":
        return JsonFormatter()
    if format == "text":
        return TextFormatter(colour=colour)
    raise ValueError(f"invalid log format {format!r}: expected one of {', '.join(FORMATS)}")


def wants_colour(stream: TextIO) -> bool:
    """Colour on a terminal, unless ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def console_sink(*, format: LogFormat = "text", colour: bool | None = None) -> logging.Handler:
    """Human text (or JSON lines) on stderr.

    :param colour: colour the level; by default only when stderr is a terminal.
    """
    handler = logging.StreamHandler(sys.stderr)
    use_colour = wants_colour(sys.stderr) if colour is None else colour
    handler.setFormatter(make_formatter(format, colour=use_colour))
    return handler


def default_log_file(scheduler_name: str = "sts") -> Path:
    """``<user log dir>/sts/<scheduler name>.log``."""
    return log_directory() / f"{scheduler_name}.log"


def file_sink(
    *,
    path: Path | None = None,
    scheduler_name: str = "sts",
    format: LogFormat = "text",
    max_bytes: int = 10_000_000,
    backup_count: int = 5,
) -> logging.Handler:
    """A rotating log file: ``path``, or ``<user log dir>/sts/<scheduler name>.log``.

    :param max_bytes: the size at which the file is rotated.
    :param backup_count: how many rotated files are kept.
    """
    import logging.handlers  # on use: it pulls in socket and queue, which --help never needs

    target = Path(path) if path is not None else default_log_file(scheduler_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        target, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
    )
    handler.setFormatter(make_formatter(format))
    return handler


def json_sink(
    *, path: Path | None = None, max_bytes: int = 10_000_000, backup_count: int = 5
) -> logging.Handler:
    """JSON lines on stdout, or appended to a file at ``path`` rotated like the ``file`` sink.

    :param max_bytes: the size at which the file is rotated (0: never).
    :param backup_count: how many rotated files are kept.
    """
    if path is None:
        handler: logging.Handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        return handler
    return file_sink(path=path, format="json", max_bytes=max_bytes, backup_count=backup_count)


def install_sinks(handlers: Iterable[logging.Handler], level: int) -> None:
    """Attach ``handlers`` to the ``sts`` logger at ``level``, replacing (and closing) the
    sinks a previous configuration installed. Other handlers are left alone."""
    logger = logging.getLogger("sts")
    for old in list(logger.handlers):
        if getattr(old, SINK_MARK, False) or getattr(old, DEFAULT_MARK, False):
            logger.removeHandler(old)
            old.close()
    for handler in handlers:
        setattr(handler, SINK_MARK, True)
        logger.addHandler(handler)
    logger.setLevel(level)


def configure_logging(level: str | int | None = None) -> None:
    """Set the ``sts`` logger's level (``LOG_LEVEL``, default INFO) and, when neither it
    nor the root logger has a handler, add one that writes to stderr.

    An application's own logging configuration is left alone, and so is one installed
    from a config file's ``[logging]`` (its sinks are marked): that one already weighed
    ``LOG_LEVEL`` against the file and the command line.
    """
    sts_logger = logging.getLogger("sts")
    if level is None and any(getattr(h, SINK_MARK, False) for h in sts_logger.handlers):
        return
    if level is None:
        level = os.environ.get("LOG_LEVEL", "INFO")
    resolved = parse_level(level) if isinstance(level, str) else level
    sts_logger.setLevel(resolved)
    if not sts_logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(TextFormatter())  # redacts resolved secrets
        setattr(handler, DEFAULT_MARK, True)  # a config's sinks replace it
        sts_logger.addHandler(handler)

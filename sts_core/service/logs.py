"""The log level from ``LOG_LEVEL``, and a console handler when the app has none."""

from __future__ import annotations

import logging
import os
import sys

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def parse_level(value: str, *, origin: str = "LOG_LEVEL") -> int:
    """The ``logging`` level named ``value`` (any case, spaces ignored).

    :raises ValueError: naming where the value came from and the valid levels.
    """
    name = value.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"invalid {origin} {value!r}: expected one of {', '.join(LEVELS)}")
    return int(getattr(logging, name))


def configure_logging(level: str | int | None = None) -> None:
    """Set the ``sts`` logger's level (``LOG_LEVEL``, default INFO) and, when neither it
    nor the root logger has a handler, add one that writes to stderr.

    An application's own logging configuration is left alone, and so is one installed
    from a config file's ``[logging]`` (its sinks are marked): that one already weighed
    ``LOG_LEVEL`` against the file and the command line.
    """
    sts_logger = logging.getLogger("sts")
    if level is None and any(getattr(h, "_sts_sink", False) for h in sts_logger.handlers):
        return
    if level is None:
        level = os.environ.get("LOG_LEVEL", "INFO")
    resolved = parse_level(level) if isinstance(level, str) else level
    sts_logger.setLevel(resolved)
    if not sts_logger.handlers and not logging.getLogger().handlers:
        from .logsinks import DEFAULT_MARK, TextFormatter  # logsinks imports this module

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(TextFormatter())  # redacts resolved secrets
        setattr(handler, DEFAULT_MARK, True)  # a config's sinks replace it
        sts_logger.addHandler(handler)

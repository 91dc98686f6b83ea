"""Text output of the commands: aligned columns and instants in a chosen time zone."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any, TextIO

from ...timezones import local_timezone, resolve_timezone
from ..printable import printable


def zone_named(name: str | None) -> tzinfo:
    """The zone a control answer names; the machine's zone when it names none we know."""
    if not name:
        return local_timezone()
    try:
        return resolve_timezone(name)
    except ValueError:
        return local_timezone()


def instant_text(value: str | datetime | None, zone: tzinfo) -> str:
    """``2026-03-29 03:00:00 CEST`` for an ISO 8601 instant, in ``zone``; ``-`` for none."""
    if value is None:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or local.strftime('%z')}"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def error_width(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> int | None:
    """How wide the last column may be on this terminal (what the others leave, at least
    40), or ``None`` when stdout is no terminal: a file or a pipe gets the whole text."""
    if not sys.stdout.isatty():
        return None
    widths = [len(header) for header in headers[:-1]]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=False)]
    columns = shutil.get_terminal_size().columns
    return max(40, columns - sum(widths) - 2 * len(widths))


def one_line(text: str | None, width: int = 100) -> str:
    """``text`` on one line (its whitespace runs made one space), printable, shortened."""
    if not text:
        return ""
    line = printable(" ".join(text.split()))
    return line if len(line) <= width else line[: width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO | None = None) -> None:
    """Columns aligned on the widest cell; the last column is not padded. Every cell is
    made :func:`printable`."""
    out = out or sys.stdout
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    for row in [list(headers), *rows]:
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row[:-1])]
        print("  ".join([*cells, row[-1]]).rstrip(), file=out)


def print_json(value: Any, out: TextIO | None = None) -> None:
    json.dump(value, out or sys.stdout, indent=2, ensure_ascii=False)
    print(file=out or sys.stdout)

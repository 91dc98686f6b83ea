"""Reading a config file again, fast: the sections whose text did not change since the
last read are taken from it instead of being parsed again.

A live reload of a 10,000-job file in which one job changed would otherwise spend nearly
all its time in :mod:`configparser`. The file is cut into sections at the lines where
configparser itself sees a section start (a ``[header]`` in the first column, which is
never a value's continuation); each section is parsed alone, as a file of its own, only
when its text is new. Anything unusual (text before the first section, a section given
twice, a syntax error) is parsed whole, as before, so errors read the same.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass

from .inifile import parse_ini
from .layers import Layer, Setting

_SECTION_START = configparser.ConfigParser.SECTCRE
_COMMENT_PREFIXES = ("#", ";")


@dataclass(frozen=True, slots=True)
class _Section:
    """One section as parsed alone: lines relative to its header (the header is line 1)."""

    name: str
    keys: tuple[tuple[str, str, int], ...]


#: Per file: the text of each section last read -> that section parsed.
_last_read: dict[str, dict[str, _Section]] = {}


def parse_ini_again(text: str, source: str) -> Layer:
    """What :func:`parse_ini` returns for ``text``, reusing the sections of the last read
    of ``source`` whose text is unchanged."""
    pieces = _cut(text)
    previous = _last_read.get(source)
    if pieces is None or previous is None:
        layer = parse_ini(text, source)
        if pieces is not None:
            _last_read[source] = _remember(layer, pieces)
        return layer
    sections: list[tuple[int, str, _Section]] = []
    names: set[str] = set()
    for offset, piece in pieces:
        section = previous.get(piece)
        if section is None:
            section = _parse_alone(piece)
            if section is None:
                return _whole(text, source, pieces)
        if section.name in names:
            return _whole(text, source, pieces)  # configparser names the duplicate
        names.add(section.name)
        sections.append((offset, piece, section))
    _last_read[source] = {piece: section for _, piece, section in sections}
    settings: dict[str, dict[str, Setting]] = {}
    origins: dict[str, str] = {}
    for offset, _, section in sections:
        origins[section.name] = f"{source}:{offset + 1}"
        settings[section.name] = {
            key: Setting(value, f"{source}:{offset + line}") for key, value, line in section.keys
        }
    return Layer(source, settings, origins)


def forget(source: str) -> None:
    _last_read.pop(source, None)


def _whole(text: str, source: str, pieces: list[tuple[int, str]]) -> Layer:
    _last_read.pop(source, None)
    layer = parse_ini(text, source)  # raises the error a whole read reports
    _last_read[source] = _remember(layer, pieces)
    return layer


def _cut(text: str) -> list[tuple[int, str]] | None:
    """``(line offset, text)`` of each section; ``None`` when something other than blank
    lines and comments comes before the first one."""
    lines = text.splitlines(keepends=True)
    starts = [
        number
        for number, line in enumerate(lines)
        if line[:1] == "[" and _SECTION_START.match(line.strip())
    ]
    preamble = lines[: starts[0]] if starts else lines
    if any(line.strip() and not line.strip().startswith(_COMMENT_PREFIXES) for line in preamble):
        return None
    bounds = [*starts, len(lines)]
    return [
        (start, "".join(lines[start:end])) for start, end in zip(starts, bounds[1:], strict=True)
    ]


def _parse_alone(piece: str) -> _Section | None:
    try:
        layer = parse_ini(piece, "")
    except ValueError:  # ConfigError: parsed whole, it reports the right line
        return None
    if len(layer.settings) != 1:
        return None
    ((name, keys),) = layer.settings.items()
    return _Section(name, tuple((key, s.value, _line(s.origin)) for key, s in keys.items()))


def _remember(layer: Layer, pieces: list[tuple[int, str]]) -> dict[str, _Section]:
    remembered: dict[str, _Section] = {}
    names = list(layer.settings)
    if len(names) != len(pieces):
        return remembered
    for (offset, piece), name in zip(pieces, names, strict=True):
        keys = layer.settings[name]
        remembered[piece] = _Section(
            name, tuple((key, s.value, _line(s.origin) - offset) for key, s in keys.items())
        )
    return remembered


def _line(origin: str) -> int:
    return int(origin.rpartition(":")[2])

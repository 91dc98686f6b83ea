"""A webhook's options, checked once, from Python values or ``config.ini`` text.

Every parser raises ``ValueError`` with a sentence naming the option, the offending entry
(and its position) and what would be valid. Secrets stay ``${secret:NAME}`` references
here: they are resolved when a run starts, never at load time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: ``GET``, ``POST``, ... : an HTTP method is a token (RFC 9110, section 9.1).
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_NAME = _METHOD
_STATUS_CLASS = re.compile(r"([1-5])xx")
_STATUS_RANGE = re.compile(r"(\d{3})\s*-\s*(\d{3})")


def parse_method(value: str) -> str:
    """``post`` -> ``POST``."""
    method = value.strip().upper() if isinstance(value, str) else value
    if not isinstance(method, str) or not _METHOD.fullmatch(method):
        raise ValueError(
            f"invalid method {value!r}: expected an HTTP method such as POST, PUT, PATCH, GET "
            f"or DELETE"
        )
    return method


def parse_headers(value: str | Mapping[str, str] | None) -> dict[str, str]:
    """Headers from a mapping, or text of ``Name: value`` lines (one header a line).

    A value may hold ``${secret:NAME}`` and the placeholders ``{job}``, ``{run_id}``...
    """
    if value is None:
        return {}
    if isinstance(value, str):
        headers: dict[str, str] = {}
        for position, line in enumerate(value.splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, text = line.partition(":")
            if not sep:
                raise ValueError(
                    f"invalid headers line {position} {line.strip()!r}: expected 'Name: value', "
                    f"e.g. Authorization: Bearer ${{secret:API_TOKEN}}"
                )
            _check_header(name.strip(), text.strip(), f"headers line {position}")
            headers[name.strip()] = text.strip()
        return headers
    if isinstance(value, Mapping):
        for name, text in value.items():
            _check_header(name, text, f"headers entry {name!r}")
        return dict(value)
    raise ValueError(
        f"invalid headers {value!r}: expected a mapping of names to values, or text of "
        f"'Name: value' lines"
    )


def _check_header(name: object, text: object, where: str) -> None:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"invalid {where}: {name!r} is not a header name")
    if not isinstance(text, str):
        raise ValueError(f"invalid {where}: the value {text!r} is not text")
    if any(character in text for character in "\r\n\0"):
        raise ValueError(f"invalid {where}: the value holds a line break or NUL character")


def parse_pairs(value: str | Mapping[str, str] | None, *, what: str) -> list[tuple[str, str]]:
    """``key=value`` pairs (``form``, ``params``): a mapping, or text with one pair a line."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, str):
        pairs = []
        for position, line in enumerate(value.splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, text = line.partition("=")
            if not sep or not key.strip():
                raise ValueError(
                    f"invalid {what} line {position} {line.strip()!r}: expected key=value, "
                    f"one pair a line"
                )
            pairs.append((key.strip(), text.strip()))
    else:
        raise ValueError(
            f"invalid {what} {value!r}: expected a mapping, or text of key=value lines"
        )
    for key, text in pairs:
        if not isinstance(key, str) or not isinstance(text, str):
            raise ValueError(f"invalid {what} entry {key!r}: keys and values must be text")
    return pairs


def parse_json(value: Any) -> Any:
    """The JSON body: a Python value (dict, list, ...), or JSON text from a config file."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"invalid json: {error.msg} at line {error.lineno}, column {error.colno}"
            ) from None
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"invalid json {value!r}: {error}") from None
    return value


def parse_expect(value: str | Iterable[int]) -> frozenset[int]:
    """Status codes that mean success: ``"2xx"``, ``"200, 201, 204"``, ``"200-299 304"``."""
    items: list[object] = (
        [item for item in re.split(r"[\s,]+", re.sub(r"\s*-\s*", "-", value.strip())) if item]
        if isinstance(value, str)
        else list(value)
    )
    expected = "expected status codes like '2xx', '200, 201' or '200-299, 304'"
    if not items:
        raise ValueError(f"invalid expect {value!r}: it is empty; {expected}")
    codes: set[int] = set()
    for position, item in enumerate(items, start=1):
        if isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            codes.add(item)
            continue
        text = str(item).strip().lower()
        if match := _STATUS_CLASS.fullmatch(text):
            first = int(match.group(1)) * 100
            codes.update(range(first, first + 100))
        elif (match := _STATUS_RANGE.fullmatch(text)) and 100 <= int(match.group(1)) <= int(
            match.group(2)
        ) <= 599:
            codes.update(range(int(match.group(1)), int(match.group(2)) + 1))
        elif text.isdigit() and 100 <= int(text) <= 599:
            codes.add(int(text))
        else:
            raise ValueError(
                f"invalid expect {value!r}: entry {position} ({item!r}) is not a status code; "
                f"{expected}"
            )
    return frozenset(codes)


def parse_list(value: str | Sequence[str] | None, *, what: str) -> list[str]:
    """Items separated by commas, spaces or new lines, or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item for item in re.split(r"[\s,]+", value.strip()) if item]
    items = list(value)
    for position, item in enumerate(items, start=1):
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"invalid {what}: entry {position} ({item!r}) is not text")
    return [item.strip() for item in items]

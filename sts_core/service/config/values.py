"""Turning config text into the type a task type's constructor annotates.

Supported: ``str``, ``int``, ``float``, ``bool``, ``pathlib.Path``, ``datetime.timedelta``,
``list[...]``/``tuple[..., ...]`` (comma-separated or one item a line), ``Literal``, enums,
and unions of these (``X | None`` takes ``none`` or an empty value as ``None``;
``sts``'s ``Duration`` takes ``"30m"``). Anything else, or no annotation, gets the text.
"""

from __future__ import annotations

import enum
import math
import types
import typing
from datetime import timedelta
from pathlib import Path, PurePath
from typing import Any

from ... import booleans
from ...booleans import BOOLEAN_FORMS
from ...durations import ACCEPTED_FORMS, DurationError, duration_problem, parse_duration
from ..secrets import has_secret

_NONE = {"", "none"}

#: Union members are tried in this order, so "10" becomes 10 and not "10"; text is last.
_UNION_ORDER: tuple[Any, ...] = (int, float, bool, timedelta, Path)


def parse_boolean(text: str) -> bool:
    """``true``/``false`` and their usual synonyms, in any case.

    :raises ValueError: listing the accepted words.
    """
    # The engine's words; the message leaves the value out because the config error
    # around it names the key, and may have to hide the value.
    try:
        return booleans.parse_boolean(text)
    except ValueError:
        raise ValueError(f"expected {BOOLEAN_FORMS}") from None


def split_list(text: str) -> list[str]:
    """Items separated by commas or new lines, stripped, empty ones dropped."""
    return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]


def accepts_text(annotation: Any) -> bool:
    """Whether a value of this annotation can be arbitrary text (so a secret reference)."""
    if annotation in (str, Any, None) or annotation is typing.Any:
        return True
    if _is_union(annotation):
        return any(accepts_text(member) for member in typing.get_args(annotation))
    return not _is_supported(annotation)


def convert(text: str, annotation: Any) -> Any:
    """``text`` as a value of ``annotation``.

    :raises ValueError: saying what text would be valid (without repeating ``text``, so
        that the caller decides whether the value may be shown).
    """
    if has_secret(text):
        if not accepts_text(annotation):
            raise ValueError(
                f"a secret reference can only fill a text option, and this one takes "
                f"{describe(annotation)}"
            )
        return text  # resolved by the task at run time, never here
    return _convert(text, annotation)


def _convert(text: str, annotation: Any) -> Any:
    if annotation in (str, Any, None) or annotation is typing.Any:
        return text
    if _is_union(annotation):
        return _convert_union(text, annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return _convert_literal(text, typing.get_args(annotation))
    if origin in (list, tuple):
        return _convert_sequence(text, annotation, origin)
    if annotation is bool:
        return parse_boolean(text)
    if annotation is int:
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError("expected a whole number such as 3") from None
    if annotation is float:
        try:
            number = float(text.strip())
        except ValueError:
            raise ValueError("expected a number such as 2.5") from None
        if not math.isfinite(number):
            raise ValueError("expected a finite number such as 2.5")
        return number
    if annotation is timedelta:
        try:
            seconds = parse_duration(text)
            return timedelta(seconds=seconds)
        except DurationError as error:
            raise ValueError(duration_problem(error)) from None
        except OverflowError:
            raise ValueError(f"expected a duration: {ACCEPTED_FORMS}") from None
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        if not text.strip():
            raise ValueError("expected a path")
        path = annotation(text.strip())
        return path.expanduser() if isinstance(path, Path) else path
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _convert_enum(text, annotation)
    return text


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _is_supported(annotation: Any) -> bool:
    if annotation in (bool, int, float, timedelta) or typing.get_origin(annotation) in (
        list,
        tuple,
        typing.Literal,
    ):
        return True
    return isinstance(annotation, type) and issubclass(annotation, PurePath | enum.Enum)


def _convert_union(text: str, annotation: Any) -> Any:
    members = typing.get_args(annotation)
    if type(None) in members and text.strip().lower() in _NONE:
        return None
    candidates = [member for member in members if member is not type(None)]
    ordered = sorted(
        candidates,
        key=lambda member: (
            _UNION_ORDER.index(member) if member in _UNION_ORDER else len(_UNION_ORDER)
        ),
    )
    text_member = next((member for member in ordered if accepts_text(member)), None)
    for member in ordered:
        if member is text_member:
            continue
        try:
            return _convert(text, member)
        except ValueError:
            continue
    if text_member is not None:
        return _convert(text, text_member)
    raise ValueError(f"expected {describe(annotation)}")


def _convert_literal(text: str, choices: tuple[Any, ...]) -> Any:
    for choice in choices:
        if str(choice).lower() == text.strip().lower():
            return choice
    raise ValueError(f"expected one of {', '.join(str(choice) for choice in choices)}")


def _convert_sequence(text: str, annotation: Any, origin: Any) -> Any:
    arguments = typing.get_args(annotation)
    item_type = arguments[0] if arguments else str
    items = []
    for position, item in enumerate(split_list(text), start=1):
        try:
            items.append(_convert(item, item_type))
        except ValueError as error:
            raise ValueError(f"item {position}: {error}") from None
    return tuple(items) if origin is tuple else items


def _convert_enum(text: str, annotation: type[enum.Enum]) -> Any:
    for member in annotation:
        if text.strip().lower() in (member.name.lower(), str(member.value).lower()):
            return member
    raise ValueError(f"expected one of {', '.join(str(member.value) for member in annotation)}")


def describe(annotation: Any) -> str:
    """What text an annotation takes, for error messages."""
    if annotation in (str, Any, None) or annotation is typing.Any:
        return "text"
    if _is_union(annotation):
        members = typing.get_args(annotation)
        parts = [describe(member) for member in members if member is not type(None)]
        if type(None) in members:
            parts.append("none (or an empty value)")
        return " or ".join(dict.fromkeys(parts))
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(str(choice) for choice in typing.get_args(annotation))
    if origin in (list, tuple):
        arguments = typing.get_args(annotation)
        return f"a comma-separated list of {describe(arguments[0] if arguments else str)}"
    names = {
        bool: BOOLEAN_FORMS,
        int: "a whole number",
        float: "a number",
        timedelta: "a duration such as 30s or 1h30m",
    }
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "a path"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(str(member.value) for member in annotation)
    return "text"

"""Objects named ``package.module:attribute``: a config file's ``callable``, ``sts run
app.jobs:scheduler``, a retry policy's exception names."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def import_object(path: str) -> object:
    """Import ``package.module:attribute`` (dots after the colon walk attributes).

    :raises ValueError: naming the path and what went wrong.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"invalid callable {path!r}: expected 'package.module:function'")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r} for {path!r}: {error}") from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}") from None
    return target


def import_callable(path: str) -> Callable[..., Any]:
    """:func:`import_object`, which must be callable.

    :raises ValueError: naming the path and what went wrong.
    """
    target = import_object(path)
    if not callable(target):
        raise ValueError(f"{path!r} is {target!r}, which is not callable")
    return target

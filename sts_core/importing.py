"""Objects named ``package.module:attribute``: a config file's ``callable``, ``sts run
app.jobs:scheduler``, a retry policy's exception names."""

from __future__ import annotations

import importlib
import os
import sys
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
    except ModuleNotFoundError as error:
        raise ValueError(
            f"cannot import {module_name!r} for {path!r}: {error}; looked in "
            f"{', '.join(_searched_directories())} and the installed packages"
        ) from None
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


def _searched_directories() -> list[str]:
    """The directories on ``sys.path`` that are not Python's own or installed packages:
    where a user's module is looked for (the config file's directory, the current one)."""
    installed = {os.path.realpath(prefix) for prefix in (sys.prefix, sys.base_prefix)}
    found = []
    for entry in sys.path:
        real = os.path.realpath(entry or os.curdir)
        if os.path.isdir(real) and not any(
            real == prefix or real.startswith(prefix + os.sep) for prefix in installed
        ):
            found.append(entry or os.getcwd())
    return found or [os.getcwd()]

"""Keyword arguments for a plugin's factory or task class, from a section's text values,
converted to the types its signature annotates."""

from __future__ import annotations

import inspect
import keyword
import typing
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...suggest import did_you_mean
from ..secrets import looks_secret
from .errors import Problem
from .layers import Setting
from .values import convert, describe


@dataclass(frozen=True, slots=True)
class Signature:
    """The keyword options a callable takes: name -> (annotation, required)."""

    options: dict[str, tuple[Any, bool]]
    takes_any: bool
    """Whether it has ``**kwargs``: unknown keys are passed through as text."""
    renamed: dict[str, str] = field(default_factory=dict)
    """Keys whose parameter has another name: a Python keyword gets a trailing underscore
    (PEP 8), so the key ``from`` fills the parameter ``from_``."""

    def parameter(self, key: str) -> str:
        return self.renamed.get(key, key)

    def describe_options(self) -> str:
        if not self.options:
            return "none"
        return ", ".join(
            f"{name} ({describe(annotation)}{', required' if required else ''})"
            for name, (annotation, required) in self.options.items()
        )


def signature_of(
    target: Callable[..., Any], *, skip: Collection[str] = (), positional: int = 0
) -> Signature:
    """The options of ``target`` (a class: its constructor), except ``skip`` and the first
    ``positional`` parameters (the ones the caller passes itself)."""
    try:
        parameters = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return Signature({}, True)
    function = target.__init__ if isinstance(target, type) else target  # type: ignore[misc]
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # an annotation that does not resolve: take its values as text
        hints = {}
    options: dict[str, tuple[Any, bool]] = {}
    renamed: dict[str, str] = {}
    takes_any = False
    for index, parameter in enumerate(parameters):
        if index < positional or parameter.name in skip:
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            takes_any = True
        elif parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            required = parameter.default is inspect.Parameter.empty
            key = parameter.name
            if key.endswith("_") and keyword.iskeyword(key[:-1]):
                key = key[:-1]
                renamed[key] = parameter.name
            options[key] = (hints.get(parameter.name, str), required)
    return Signature(options, takes_any, renamed)


def shown_value(key: str, value: str) -> str:
    """How a value appears in an error message: never when its key looks secret."""
    return "(hidden: the key looks like a secret)" if looks_secret(key) else repr(value)


def convert_options(
    signature: Signature,
    section: str,
    settings: Mapping[str, Setting],
    *,
    what: str,
    section_origin: str | None,
    also_known: Iterable[str] = (),
) -> tuple[dict[str, Any], list[Problem]]:
    """The converted keyword arguments, and every problem found (all of them, not the first).

    :param what: what takes the options, for messages (``"the task type 'python'"``).
    :param also_known: other keys of the section (a job's policies), for "did you mean".
    """
    arguments: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, setting in settings.items():
        annotation_required = signature.options.get(key)
        if annotation_required is None and not signature.takes_any:
            maybe = did_you_mean(key, [*signature.options, *also_known])
            problems.append(
                Problem(
                    f"unknown option{maybe} for {what}: expected one of "
                    f"{signature.describe_options()}",
                    origin=setting.origin,
                    section=section,
                    key=key,
                )
            )
            continue
        annotation = annotation_required[0] if annotation_required else str
        try:
            arguments[signature.parameter(key)] = convert(setting.value, annotation)
        except ValueError as error:
            problems.append(
                Problem(
                    f"invalid value {shown_value(key, setting.value)}: {error}",
                    origin=setting.origin,
                    section=section,
                    key=key,
                )
            )
    for name, (annotation, required) in signature.options.items():
        if required and name not in settings:
            problems.append(
                Problem(
                    f"missing option: {what} needs {name} ({describe(annotation)})",
                    origin=section_origin,
                    section=section,
                    key=name,
                )
            )
    return arguments, problems

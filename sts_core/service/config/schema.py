"""The sections and keys STS itself reads, their defaults and their checks.

Other sections: ``[job:NAME]`` (a job), ``[state]`` (options of the state store),
``[<scheme>]`` or ``[<task type>]`` named after what a plugin registers (``[email]``:
options of the ``email:`` notifier and defaults of the ``email`` task type),
``[source:NAME]`` (options of a config source), ``[secrets:NAME]`` (options of a secret
provider) and ``[logging:NAME]`` (options of a log sink). Their keys are checked against
the signature of what they configure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ...booleans import BOOLEAN_FORMS
from ...durations import DurationError, duration_problem, parse_duration
from ...executor_spec import parse_executor
from ...notify_policy import NotifyPolicy
from ...suggest import did_you_mean
from ...timezones import resolve_timezone
from ..logs import LEVELS
from ..logsinks import FORMATS
from .errors import Problem
from .layers import Layer, Setting, Settings
from .values import parse_boolean, split_list

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class Key:
    """A key STS reads: its default, its check (raises ``ValueError("expected ...")``)."""

    default: str | None
    check: Callable[[str], object]
    help: str


def _name(text: str) -> None:
    if not _NAME.fullmatch(text.strip()):
        raise ValueError(
            "expected letters, digits, '.', '_' or '-' (it names the state file, the log "
            "file and the control socket)"
        )


def _timezone(text: str) -> None:
    if text.strip().lower() == "local":
        return
    try:
        resolve_timezone(text)
    except ValueError:
        raise ValueError(
            "expected 'local' or an IANA time zone such as 'Europe/Berlin', "
            "'America/New_York' or 'UTC'"
        ) from None


def _word(text: str) -> None:
    if not _WORD.fullmatch(text.strip()):
        raise ValueError("expected the name of an installed plugin's registration")


def _executor(text: str) -> None:
    try:
        parse_executor(text)
    except ValueError as error:
        raise ValueError(str(error).split(": ", 1)[-1]) from None


def _duration(text: str) -> None:
    try:
        parse_duration(text)
    except DurationError as error:
        raise ValueError(duration_problem(error)) from None


def _duration_or_none(text: str) -> None:
    if text.strip().lower() != "none":
        _duration(text)


def _workers(text: str) -> None:
    if text.strip() == "":
        return
    try:
        number = int(text.strip())
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError("expected a whole number >= 1, or nothing for Python's default")


def _names(text: str) -> None:
    for item in split_list(text):
        _word(item)


def _providers(text: str) -> None:
    if not split_list(text):
        raise ValueError("expected at least one secret provider, such as 'env, files'")
    _names(text)


def _level(text: str) -> None:
    if text.strip().upper() not in LEVELS:
        raise ValueError(f"expected one of {', '.join(LEVELS)}")


def _file(text: str) -> None:
    # 'on', 'off' or a path: any text that is not blank.
    if not text.strip():
        raise ValueError(f"expected {BOOLEAN_FORMS}, or the path of the log file")


def _format(text: str) -> None:
    if text.strip().lower() not in FORMATS:
        raise ValueError(f"expected one of {', '.join(FORMATS)}")


def _boolean(text: str) -> None:
    parse_boolean(text)


def _notify_check(key: str) -> Callable[[str], None]:
    def check(text: str) -> None:
        arguments: dict[str, Any] = {key: text}
        try:
            NotifyPolicy.build(**arguments)
        except ValueError as error:
            raise ValueError(str(error).split(": ", 1)[-1]) from None

    return check


#: The sections STS reads itself, with every key they accept.
SECTIONS: dict[str, dict[str, Key]] = {
    "scheduler": {
        "name": Key("sts", _name, "names the state file, the log file and the socket"),
        "timezone": Key("local", _timezone, "default zone of calendar schedules"),
        "state": Key("sqlite", _word, "the state store (options in [state])"),
        "stop_grace": Key("30s", _duration, "how long a stop waits for running runs"),
        "max_workers": Key(None, _workers, "threads for sync tasks"),
        "loop_block_threshold": Key(
            "1s", _duration_or_none, "warn when a run blocks the event loop longer (none: off)"
        ),
        "sources": Key(None, _names, "config sources from plugins (options in [source:NAME])"),
        "executor": Key(
            None, _executor, "where attempts run: local, or NAME[:TARGET] (options in [NAME])"
        ),
    },
    "config": {
        "sources": Key(
            None,
            _names,
            "config sources from plugins (options in [source:NAME]); wins over "
            "[scheduler] sources",
        ),
    },
    "logging": {
        "level": Key("INFO", _level, "the sts logger's level"),
        "console": Key("on", _boolean, "log to stderr"),
        "file": Key("off", _file, "on, off, or a path: a rotating log file"),
        "format": Key("text", _format, "text or json, for the console and the file"),
        "sinks": Key(None, _names, "more log sinks (options in [logging:NAME])"),
    },
    "secrets": {
        "providers": Key("env, files", _providers, "secret providers, asked in this order"),
    },
    "notify": {
        "notify": Key(None, _notify_check("notify"), "channels of every job: email:ops@x"),
        "notify_on": Key(None, _notify_check("notify_on"), "failure, recovery and/or missed"),
        "notify_interval": Key(
            None, _notify_check("notify_interval"), "repeats per job and channel wait this"
        ),
    },
}

#: Section prefixes whose keys belong to what they name: ``[job:nightly]``.
PREFIXES = ("job", "source", "secrets", "logging")
#: Sections whose keys belong to a plugin's factory.
OPEN_SECTIONS = ("state",)


def defaults_layer() -> Layer:
    settings = {
        section: {
            key: Setting(spec.default, "default")
            for key, spec in keys.items()
            if spec.default is not None
        }
        for section, keys in SECTIONS.items()
    }
    return Layer("default", settings, {section: "default" for section in settings})


def valid_sections() -> str:
    fixed = [f"[{name}]" for name in (*SECTIONS, *OPEN_SECTIONS)]
    return ", ".join([*fixed, *(f"[{prefix}:NAME]" for prefix in PREFIXES)])


def check_sections(
    settings: Settings, plugin_sections: Callable[[], Collection[str]] | None = None
) -> list[Problem]:
    """Every problem of the fixed sections and of section names, all at once.

    :param plugin_sections: the names plugins register (notifier schemes, task types),
        whose sections hold their options; asked only when a section is otherwise unknown,
        so that a config without one does not load the plugins.
    """
    problems: list[Problem] = []
    known: Collection[str] | None = None
    for section, keys in settings.sections.items():
        origin = settings.section_origins.get(section)
        kind, colon, name = section.partition(":")
        if colon:
            if kind not in PREFIXES:
                problems.append(_unknown_section(section, origin))
            elif not name.strip():
                problems.append(
                    Problem(
                        f"the section needs a name after '{kind}:', such as [{kind}:nightly]",
                        origin=origin,
                        section=section,
                    )
                )
            continue
        if section in OPEN_SECTIONS:
            continue
        spec = SECTIONS.get(section)
        if spec is None:
            if known is None:
                known = plugin_sections() if plugin_sections is not None else ()
            if section not in known:
                problems.append(_unknown_section(section, origin))
            continue  # its keys are checked against what it configures (config/notify.py)
        for key, setting in keys.items():
            problems.extend(_check_key(section, key, setting, spec))
    return problems


def _check_key(section: str, key: str, setting: Setting, spec: dict[str, Key]) -> list[Problem]:
    known = spec.get(key)
    if known is None:
        maybe = did_you_mean(key, spec)
        return [
            Problem(
                f"unknown key{maybe}: expected one of {', '.join(spec)}",
                origin=setting.origin,
                section=section,
                key=key,
            )
        ]
    try:
        known.check(setting.value)
    except ValueError as error:
        return [
            Problem(
                f"invalid value {setting.value!r}: {error}",
                origin=setting.origin,
                section=section,
                key=key,
            )
        ]
    return []


def _unknown_section(section: str, origin: str | None) -> Problem:
    candidates = [*SECTIONS, *OPEN_SECTIONS]
    maybe = did_you_mean(section, candidates, "[{}]")
    return Problem(
        f"unknown section{maybe}: expected {valid_sections()}", origin=origin, section=section
    )

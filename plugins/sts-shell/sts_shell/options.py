"""A shell task's options, checked once, from Python values or ``config.ini`` text.

Every parser raises ``ValueError`` with a sentence naming the option, the offending value
(or entry and its position) and what would be valid. None of them ever sees a secret's
value: secrets stay ``${secret:NAME}`` references until the run starts.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence

import sts

SECRET_REFERENCE = re.compile(r"\$\{secret:[^}]*\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_command(command: str | Sequence[str], *, shell: bool) -> list[str]:
    """The command as arguments: text is split with POSIX shell quoting, never run by a
    shell; with ``shell`` it stays one string of shell code (a one-item list).
    """
    if shell:
        if not isinstance(command, str):
            raise ValueError(
                f"invalid command {command!r}: with shell = true, the command is one string "
                f"of shell code, e.g. 'tar czf - /srv | gzip -t'"
            )
        if not command.strip():
            raise ValueError("invalid command '': it is empty; expected shell code to run")
        if sts.PLACEHOLDER.search(command):
            raise ValueError(
                f"invalid command {command!r}: placeholders such as {{job}} are not "
                f"substituted into shell code, where a shell would parse them again; use "
                f'the environment variables "$STS_JOB", "$STS_RUN_ID", "$STS_FIRE_TIME"'
            )
        _refuse_secret(command, command, "the shell code")
        return [command]
    if isinstance(command, str):
        try:
            arguments = shlex.split(command)
        except ValueError as error:
            raise ValueError(
                f"invalid command {command!r}: {error}; quote arguments with '...' or \"...\" "
                f"as in a POSIX shell"
            ) from None
    elif isinstance(command, Sequence):
        arguments = list(command)
        for position, argument in enumerate(arguments):
            if not isinstance(argument, str):
                raise ValueError(
                    f"invalid command {command!r}: argument {position} is {argument!r}; "
                    f"expected every argument to be a string"
                )
    else:
        raise ValueError(
            f"invalid command {command!r}: expected text such as '/usr/bin/backup --full' "
            f"or a list of arguments"
        )
    if not arguments or not arguments[0]:
        raise ValueError(
            f"invalid command {command!r}: it is empty; expected a program and its arguments"
        )
    for position, argument in enumerate(arguments):
        _refuse_secret(command, argument, f"argument {position}")
        if "\0" in argument:
            raise ValueError(
                f"invalid command {command!r}: argument {position} contains a NUL character, "
                f"which no program can receive"
            )
    return arguments


def _refuse_secret(command: str | Sequence[str], text: str, where: str) -> None:
    if SECRET_REFERENCE.search(text):
        raise ValueError(
            f"invalid command {command!r}: {where} refers to a secret, but a command line is "
            f"not secret (any user of the machine sees it in 'ps'); pass it through env "
            f"instead, e.g. env = PASSWORD=${{secret:NAME}}"
        )


def parse_env(env: str | Mapping[str, str] | None) -> dict[str, str]:
    """Environment variables to set: a mapping, or text of ``KEY=value`` entries separated
    by spaces or newlines, with POSIX shell quoting (``"GREETING=hello world"``).
    """
    if env is None:
        return {}
    if isinstance(env, str):
        try:
            entries = shlex.split(env)
        except ValueError as error:
            raise ValueError(
                f"invalid env {env!r}: {error}; quote a value with spaces as "
                f'"KEY=value with spaces"'
            ) from None
        result: dict[str, str] = {}
        for position, entry in enumerate(entries, start=1):
            key, sep, value = entry.partition("=")
            if not sep:
                raise ValueError(
                    f"invalid env entry {position} {entry!r}: expected KEY=value, "
                    f"e.g. LANG=C.UTF-8 PGPASSWORD=${{secret:DB_PASSWORD}}"
                )
            _check_env_pair(key, value, f"env entry {position} {entry!r}")
            if key in result:
                raise ValueError(f"invalid env entry {position} {entry!r}: {key} is set twice")
            result[key] = value
        return result
    if isinstance(env, Mapping):
        for key, value in env.items():
            _check_env_pair(key, value, f"env key {key!r}")
        return dict(env)
    raise ValueError(
        f"invalid env {env!r}: expected text of KEY=value entries or a mapping of names to "
        f"strings"
    )


def _check_env_pair(key: object, value: object, where: str) -> None:
    if not isinstance(key, str) or not ENV_NAME.fullmatch(key):
        raise ValueError(
            f"invalid {where}: {key!r} is not a variable name; expected letters, digits and "
            f"underscores, not starting with a digit"
        )
    if not isinstance(value, str):
        raise ValueError(f"invalid {where}: the value {value!r} is not a string")
    if "\0" in value:
        raise ValueError(f"invalid {where}: the value contains a NUL character")


def parse_size(value: int | str, *, what: str = "output_limit") -> int:
    """A number of bytes from ``65536`` or text like ``"64KiB"``, ``"1MiB"``, ``"500kB"``."""
    return sts.parse_size(value, what=what)


def parse_success_codes(value: str | Iterable[int]) -> frozenset[int]:
    """Exit codes that mean success: ``(0, 3)`` or text ``"0 3"`` / ``"0, 3"``."""
    items: list[object] = (
        [item for item in re.split(r"[\s,]+", value.strip()) if item]
        if isinstance(value, str)
        else list(value)
    )
    if not items:
        raise ValueError(
            f"invalid success_codes {value!r}: it is empty; expected exit codes like '0' "
            f"or '0, 3'"
        )
    codes = set()
    for position, item in enumerate(items, start=1):
        code: object = item
        if isinstance(item, str) and item.isdigit():
            code = int(item)
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            raise ValueError(
                f"invalid success_codes {value!r}: entry {position} ({item!r}) is not an exit "
                f"code; expected whole numbers from 0 to 255"
            )
        codes.add(code)
    return frozenset(codes)


def parse_flag(value: bool | str, *, what: str) -> bool:
    """``True``/``False``, or config text: true/false, yes/no, on/off, 1/0."""
    return sts.parse_boolean(value, what=what)

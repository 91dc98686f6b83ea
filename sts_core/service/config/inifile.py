"""Reading ``config.ini`` with :mod:`configparser`, keeping the line of every key."""

from __future__ import annotations

import ast
import configparser
import re
from collections.abc import Callable
from pathlib import Path

from .errors import ConfigError, Problem
from .layers import Layer, Setting

#: No section can have this name, so configparser's ``[DEFAULT]`` (whose keys would leak
#: into every job) is an ordinary section, reported as unknown.
_NO_DEFAULT_SECTION = "\0"
_COMMENT_PREFIXES = ("#", ";")


def new_parser() -> configparser.ConfigParser:
    # No interpolation: "${secret:NAME}" and "%" are plain text to us.
    return configparser.ConfigParser(
        interpolation=None,
        inline_comment_prefixes=_COMMENT_PREFIXES,
        comment_prefixes=_COMMENT_PREFIXES,
        strict=True,
        empty_lines_in_values=False,
        default_section=_NO_DEFAULT_SECTION,
    )


def read_ini(path: Path, parse: Callable[[str, str], Layer] | None = None) -> Layer:
    """The settings of the file at ``path``, each with the origin ``<path>:<line>``.

    :param parse: ``parse(text, source)``; :func:`parse_ini` by default (a reload passes
        one that reuses the sections it read last time).
    :raises ConfigError: when the file cannot be read or is not valid INI syntax, naming
        the file and the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            Problem(f"the file is not UTF-8 text (byte {error.start})", origin=str(path))
        ) from None
    except OSError as error:
        raise ConfigError(
            Problem(f"cannot read the config file: {error.strerror}", origin=str(path))
        ) from None
    if parse is not None:
        return parse(text, str(path))
    return parse_ini(text, str(path))


def parse_ini(text: str, source: str) -> Layer:
    """The settings in ``text``, read as the file named ``source``."""
    parser = new_parser()
    try:
        parser.read_string(text, source=source)
    except configparser.Error as error:
        raise ConfigError(_syntax_problems(error, source)) from None
    lines = _key_lines(parser, text)
    settings: dict[str, dict[str, Setting]] = {}
    section_origins: dict[str, str] = {}
    for section in parser.sections():
        section_origins[section] = f"{source}:{lines.get((section, None), 1)}"
        settings[section] = {
            key: Setting(value or "", f"{source}:{lines.get((section, key), 1)}")
            for key, value in parser.items(section, raw=True)
        }
    return Layer(source, settings, section_origins)


def _key_lines(parser: configparser.ConfigParser, text: str) -> dict[tuple[str, str | None], int]:
    """The line of each section header and key, found with configparser's own patterns
    (configparser does not keep them)."""
    lines: dict[tuple[str, str | None], int] = {}
    section: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(_COMMENT_PREFIXES) or line[:1].isspace():
            continue  # a blank line, a comment, or a value's continuation line
        header = parser.SECTCRE.match(stripped)
        if header:
            section = header.group("header")
            lines.setdefault((section, None), number)
            continue
        option = parser.OPTCRE.match(stripped)
        if option and section is not None:
            key = parser.optionxform(option.group("option").rstrip())
            lines.setdefault((section, key), number)
    return lines


def _syntax_problems(error: configparser.Error, source: str) -> list[Problem]:
    if isinstance(error, configparser.ParsingError) and not isinstance(
        error, configparser.MissingSectionHeaderError
    ):
        return [
            Problem(
                f"cannot read the line {_unrepr(content)!r}: expected '[section]', "
                f"'key = value' or a comment starting with '#' or ';'",
                origin=f"{source}:{line}",
            )
            for line, content in error.errors
        ]
    return [_syntax_problem(error, source)]


def _unrepr(content: str) -> str:
    # configparser keeps each bad line as its repr().
    try:
        value = ast.literal_eval(content)
    except (ValueError, SyntaxError):
        return content
    return str(value).strip()


def _syntax_problem(error: configparser.Error, source: str) -> Problem:
    line = getattr(error, "lineno", None)
    if isinstance(error, configparser.MissingSectionHeaderError):
        return Problem(
            f"a key before any section header ({error.line.strip()!r}): start the file with "
            f"a section such as [scheduler] or [job:NAME]",
            origin=f"{source}:{line}",
        )
    if isinstance(error, configparser.DuplicateOptionError):
        return Problem(
            "the key is given twice in this section: keep one",
            origin=f"{source}:{line}",
            section=error.section,
            key=error.option,
        )
    if isinstance(error, configparser.DuplicateSectionError):
        return Problem(
            "the section is given twice: merge the two into one",
            origin=f"{source}:{line}",
            section=error.section,
        )
    return Problem(str(error), origin=source if line is None else f"{source}:{line}")


#: ``value ;text``: a ';' after exactly one space, right after the value. An aligned comment
#: (two or more spaces before ';', as in the README's examples) is meant as one; a single
#: space is how ';' is typed inside a value (``command = make ; make install``).
_CUT_AT_SEMICOLON = re.compile(r"(?<=\S)\s;(?=.*\S)")
_SPACE_SEMICOLON = re.compile(r"[ \t\r\f\v];")
_HEADER = re.compile(r"\[(.+)\]\s*(?:[;#].*)?")
_KEY_VALUE = re.compile(r"(\s*[=:]\s*)")


def truncated_value_warnings(path: Path) -> list[str]:
    """A warning for each value that an inline ``;`` cuts short, with text after it: INI
    reads the rest as a comment, which is rarely what ``a ; b`` meant."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []  # read_ini reported it
    if not _SPACE_SEMICOLON.search(text):
        return []  # no ' ;' anywhere: nothing to cut (and no need to read line by line)
    warnings = []
    section = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(_COMMENT_PREFIXES) or line[:1].isspace():
            continue
        header = _HEADER.fullmatch(stripped) if stripped[0] == "[" else None
        if header:
            section = header.group(1).strip()
            continue
        if ";" not in stripped:  # the common case, and the cheap test (10,000 jobs)
            continue
        parts = _KEY_VALUE.split(stripped, maxsplit=1)
        if len(parts) != 3:
            continue
        key, _, value = parts
        cut = _CUT_AT_SEMICOLON.search(value)
        if cut is None:
            continue
        where = f"[{section}] {key.strip().lower()}" if section else key.strip()
        kept = value[: cut.start()]
        warnings.append(
            f"{path}:{number}: {where}: the value is cut at ' ;' (INI reads the rest as a "
            f"comment), so it is {kept!r}: to keep the ';' write it without a space before "
            f"it, or put the comment on a line of its own"
        )
    return warnings

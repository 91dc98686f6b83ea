"""Secrets: ``${secret:NAME}`` in any value, resolved at run time, never written out.

Built-in providers: ``env`` (the variable ``NAME``) and ``files`` (a file ``NAME`` in a
directory, the way Kubernetes and Docker mount secrets: ``STS_SECRETS_DIR``, default
``/run/secrets``). Plugins add providers through ``sts_register_secret_providers``; a
config file chooses them and their order in ``[secrets] providers``.

Every value this module resolves is remembered (in memory only) so that :func:`redact`
can blank it out of log lines, run records and error messages, in every form a value
takes on its way out: as is, inside a ``repr()`` or ``ascii()`` (quotes, backslashes,
newlines escaped), inside JSON (escaped, with or without ``\\uXXXX``), and those forms
nested once more (a ``repr`` inside JSON). :func:`redact` is the one choke point: the log
sinks and the run records pass through it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

SECRET_REFERENCE = re.compile(r"\$\{secret:([A-Za-z0-9_.\-/]+)\}")
#: What replaces a secret wherever it would be shown.
REDACTED = "********"
#: Keys whose plain-text values are probably secrets (warned about, and redacted).
SECRET_LIKE_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|credential|authorization",
    re.IGNORECASE,
)
#: ``NAME=value`` inside a value (``env = PGPASSWORD=x``, ``--password=x``, ``?token=x``):
#: the value runs to whitespace (or a URL's next ``&``), or is quoted.
_EMBEDDED_ASSIGNMENT = re.compile(
    r"""(?<![\w.\-])(?P<key>-{0,2}[A-Za-z_][\w.\-]*)=(?P<value>"[^"]*"|'[^']*'|[^\s"'&]+)"""
)
#: ``Name: value`` lines inside a value (``headers``): the value runs to the line's end.
_EMBEDDED_HEADER = re.compile(r"^[ \t]*(?P<key>[A-Za-z][\w\-]*):[ \t]*(?P<value>\S[^\n]*)$", re.M)
#: Shorter resolved values are not redacted from text: blanking every "ab" would garble logs.
MIN_REDACTED_LENGTH = 4


class SecretError(LookupError):
    """A secret could not be resolved. The message names the secret, never a value."""


@runtime_checkable
class SecretProvider(Protocol):
    """Where secrets come from: what a ``sts_register_secret_providers`` factory returns."""

    def get(self, name: str) -> str | None:
        """The secret ``name``, or ``None`` when this provider does not have it."""
        ...


class EnvironmentSecrets:
    """Secrets from environment variables."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def get(self, name: str) -> str | None:
        return self.environ.get(name)

    def where(self, name: str) -> str:
        return f"the environment variable {name}"


class DirectorySecrets:
    """Secrets from files in a directory, one file per secret (trailing newline dropped)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory or os.environ.get("STS_SECRETS_DIR", "/run/secrets"))

    def get(self, name: str) -> str | None:
        path = self.directory / name
        # A name like "../../etc/shadow" must not leave the directory.
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise SecretError(f"invalid secret name {name!r}: '..' and absolute paths are refused")
        try:
            return path.read_text(encoding="utf-8").rstrip("\n")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
            raise SecretError(f"cannot read the secret {name!r} from {path}: {reason}") from None

    def where(self, name: str) -> str:
        return f"the file {self.directory / name}"


_lock = threading.Lock()
_active: list[SecretProvider] | None = None
_revealed: set[str] = set()
_pattern: re.Pattern[str] | None = None
_longest = 0


def use_secret_providers(providers: Sequence[SecretProvider] | None) -> None:
    """Make ``providers`` (asked in order) the process's secret providers; ``None`` goes
    back to the built-in ones. A loaded configuration calls this."""
    global _active
    _active = None if providers is None else list(providers)


def active_providers() -> list[SecretProvider]:
    """The providers :func:`resolve_secrets` asks by default."""
    return list(_active) if _active is not None else [EnvironmentSecrets(), DirectorySecrets()]


def has_secret(text: str) -> bool:
    """Whether ``text`` refers to a secret."""
    return "${secret:" in text


def resolve_secrets(text: str, providers: Sequence[object] | None = None) -> str:
    """``text`` with every ``${secret:NAME}`` replaced by the secret's value.

    Task types call this at run time, on the options that may hold references; the
    values it returns are redacted from STS's logs and run records from then on.

    :param providers: objects with ``get(name) -> str | None``, asked in order; by default
        the configured ones (the environment, then the secrets directory).
    :raises SecretError: naming the secret (never a value) when no provider has it.
    """
    if not has_secret(text):
        return text
    chain = list(providers) if providers is not None else active_providers()

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        for provider in chain:
            value = provider.get(name)  # type: ignore[attr-defined]
            if value is not None:
                _remember(str(value))
                return str(value)
        places = [provider.where(name) for provider in chain if hasattr(provider, "where")]
        hint = f": set {' or '.join(places)}" if places else ""
        raise SecretError(f"secret {name!r} was not found by any secret provider{hint}")

    return SECRET_REFERENCE.sub(lookup, text)


def _remember(value: str) -> None:
    global _pattern
    if len(value) >= MIN_REDACTED_LENGTH and value not in _revealed:
        with _lock:
            _revealed.add(value)
            _pattern = None


def forget_revealed() -> None:
    """Forget the values resolved so far (for tests: one test's secret is not another's)."""
    global _pattern
    with _lock:
        _revealed.clear()
        _pattern = None


def redact(text: str) -> str:
    """``text`` with every secret value resolved so far, in any of its encoded forms,
    replaced by ``********``.

    Cheap enough for every line a command prints: one compiled pattern, rebuilt only when
    a new secret is resolved.
    """
    if not _revealed:
        return text
    return _compiled().sub(REDACTED, text)


def redact_record(record: logging.LogRecord) -> None:
    """Hide resolved secrets in a log record before any handler sees it: its message,
    formatted once, and its traceback, kept as redacted text (``exc_text``, which
    ``logging.Formatter`` prints) instead of the exception, which a handler could format
    again from the frames. Never raises: a record whose arguments do not fit its message
    keeps both, shown as they are, instead of failing the caller. (Fields given with
    ``extra=`` are added after the record is made: STS redacts those where it makes them.)"""
    try:
        message = record.getMessage()
    except Exception:  # bad arguments: what logging would report, shown as they are
        message = f"{record.msg!r} % {record.args!r}"
    masked = redact(message)
    if masked != message or record.args:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(record.exc_info[1])).rstrip("\n")
        record.exc_text, record.exc_info = redact(text), None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _install_record_redaction() -> None:
    """One choke point for every log record of an STS logger (``sts``, ``sts.*``), for
    every handler: STS's sinks, a plugin's, or the application's own. It costs nothing
    until a secret has been resolved."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_sts_records", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _revealed and (record.name == "sts" or record.name.startswith("sts.")):
            redact_record(record)
        return record

    factory.redacts_sts_records = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_install_record_redaction()


def redaction_margin() -> int:
    """How many characters at the end of a text may be the start of a secret still
    arriving: a stream split into pieces holds back that many between pieces, so that no
    secret is cut in two and shown half in each (0 while no secret is resolved)."""
    if not _revealed:
        return 0
    _compiled()
    return max(_longest - 1, 0)


def _compiled() -> re.Pattern[str]:
    global _pattern, _longest
    pattern = _pattern
    if pattern is None:
        with _lock:
            forms = {form for value in _revealed for form in encoded_forms(value)}
            # Longest first, so that a secret containing another is hidden whole.
            ordered = sorted(forms, key=len, reverse=True)
            _longest = len(ordered[0])
            pattern = _pattern = re.compile("|".join(map(re.escape, ordered)))
    return pattern


def encoded_forms(value: str) -> set[str]:
    """``value`` as it may appear in text: as is, escaped by ``repr``/``ascii`` (with
    either quote), by JSON (with or without ``ensure_ascii``), and each of these escaped
    once more (an error message quoting a ``repr``, logged as JSON)."""
    forms = {value}
    for _ in range(2):
        forms |= {escaped for form in forms for escaped in _escaped_forms(form)}
    return forms


def _escaped_forms(value: str) -> list[str]:
    forms = []
    for python_quote in (repr, ascii):
        # Appending both quotes makes repr() choose ' and escape it: the escaped-quote form;
        # inside a text that holds no ", repr() leaves ' as it is: the other form.
        escaped = python_quote(value + "'\"")[1:-4]
        forms += [escaped, escaped.replace("\\'", "'")]
    forms += [json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]]
    return forms


def looks_secret(key: str) -> bool:
    """Whether a config key's name suggests its value is a secret (``db_password``)."""
    return SECRET_LIKE_KEY.search(key) is not None


def embedded_secrets(value: str) -> list[tuple[str, int, int]]:
    """The plain-text secrets written inside a value as ``NAME=value`` or ``Name: value``
    under a secret-like name (``env = PGPASSWORD=hunter2``, ``X-Api-Key: abc``): each as
    (name, start, end) of its value. A ``${secret:NAME}`` reference is no plain text."""
    found = []
    for pattern in (_EMBEDDED_ASSIGNMENT, _EMBEDDED_HEADER):
        for match in pattern.finditer(value):
            key, text = match.group("key"), match.group("value").strip("\"'")
            if looks_secret(key) and text.strip() and not has_secret(text):
                found.append((key.lstrip("-"), match.start("value"), match.end("value")))
    return sorted(found, key=lambda item: item[1])


def redact_embedded(value: str) -> str:
    """``value`` with the secrets ``embedded_secrets`` finds replaced by ``REDACTED``."""
    for _, start, end in reversed(embedded_secrets(value)):
        value = value[:start] + REDACTED + value[end:]
    return value

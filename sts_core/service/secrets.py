"""Secrets: ``${secret:NAME}`` in any value, resolved at run time, never written out.

Built-in providers: ``env`` (the variable ``NAME``) and ``files`` (a file ``NAME`` in a
directory, the way Kubernetes and Docker mount secrets: ``STS_SECRETS_DIR``, default
``/run/secrets``). Plugins add providers through ``sts_register_secret_providers``; a
config file chooses them and their order in ``[secrets] providers``. Every value resolved
is handed to the engine's redaction (``sts_core/redaction.py``), which hides it from then on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..redaction import REDACTED, SecretError, reveal

SECRET_REFERENCE = re.compile(r"\$\{secret:([A-Za-z0-9_.\-/]+)\}")
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


_active: list[SecretProvider] | None = None


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
                reveal(str(value))
                return str(value)
        places = [provider.where(name) for provider in chain if hasattr(provider, "where")]
        hint = f": set {' or '.join(places)}" if places else ""
        raise SecretError(f"secret {name!r} was not found by any secret provider{hint}")

    return SECRET_REFERENCE.sub(lookup, text)


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

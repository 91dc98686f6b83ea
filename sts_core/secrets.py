"""Secrets: ``${secret:NAME}`` in any value, resolved at run time, never written out.

Built-in providers: ``env`` (the variable ``NAME``) and ``files`` (a file ``NAME`` in a
directory, the way Kubernetes and Docker mount secrets: ``STS_SECRETS_DIR``, default
``/run/secrets``). Plugins add providers through ``sts_register_secret_providers``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

SECRET_REFERENCE = re.compile(r"\$\{secret:([A-Za-z0-9_.\-/]+)\}")


class SecretError(LookupError):
    """A secret could not be resolved. The message names the secret, never a value."""


class EnvironmentSecrets:
    """Secrets from environment variables."""

    def get(self, name: str) -> str | None:
        return os.environ.get(name)


class DirectorySecrets:
    """Secrets from files in a directory, one file per secret (trailing newline dropped)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory or os.environ.get("STS_SECRETS_DIR", "/run/secrets"))

    def get(self, name: str) -> str | None:
        path = self.directory / name
        try:
            return path.read_text().rstrip("\n")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None


def has_secret(text: str) -> bool:
    """Whether ``text`` refers to a secret."""
    return "${secret:" in text


def resolve_secrets(text: str, providers: list[object] | None = None) -> str:
    """``text`` with every ``${secret:NAME}`` replaced by the secret's value.

    :param providers: objects with ``get(name) -> str | None``, asked in order; by default
        the environment, then the secrets directory.
    :raises SecretError: naming the secret (never a value) when no provider has it.
    """
    if not has_secret(text):
        return text
    chain = providers if providers is not None else [EnvironmentSecrets(), DirectorySecrets()]

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        for provider in chain:
            value = provider.get(name)  # type: ignore[attr-defined]
            if value is not None:
                return str(value)
        raise SecretError(
            f"secret {name!r} was not found: set the environment variable {name} "
            f"or create the file {DirectorySecrets().directory / name}"
        )

    return SECRET_REFERENCE.sub(lookup, text)

"""Which ``config.ini`` to read: ``--config``, ``STS_CONFIG``, ``./sts.ini``,
``./config.ini`` (the name the seed README uses), then the user config dir
(``<user config dir>/sts/config.ini``). The first that applies wins."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..paths import user_config_file
from .errors import ConfigError, Problem

LOCAL_CONFIG = "sts.ini"
#: Looked at after ./sts.ini: the seed README configures STS with a ``config.ini``.
LOCAL_CONFIG_FALLBACK = "config.ini"


def is_named(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> bool:
    """Whether the user named the config file (``--config``, ``STS_CONFIG``), rather than
    it being found in the current or the user config directory."""
    return path is not None or bool(environ.get("STS_CONFIG"))


def find_config_file(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> Path | None:
    """The config file to read, or ``None`` when there is none (defaults only).

    A file named explicitly (``path`` or ``STS_CONFIG``) must exist; the other places
    are only looked at.

    :raises ConfigError: naming the missing file and who asked for it.
    """
    if path is not None:
        return _must_exist(Path(path), "the --config option")
    named = environ.get("STS_CONFIG")
    if named:
        return _must_exist(Path(named), "env STS_CONFIG")
    for candidate in (Path(LOCAL_CONFIG), Path(LOCAL_CONFIG_FALLBACK), user_config_file()):
        if candidate.is_file():
            return candidate.absolute()
    return None


def _must_exist(path: Path, origin: str) -> Path:
    expanded = path.expanduser()
    if not expanded.is_file():
        state = "is not a file" if expanded.exists() else "does not exist"
        raise ConfigError(
            Problem(
                f"the config file {str(expanded)!r} {state}: expected the path of an INI file "
                f"(or none, to look for ./{LOCAL_CONFIG}, ./{LOCAL_CONFIG_FALLBACK} and "
                f"{user_config_file()})",
                origin=origin,
            )
        )
    return expanded.absolute()

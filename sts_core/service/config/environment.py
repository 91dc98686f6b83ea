"""The environment layer: ``LOG_LEVEL``, and ``STS_<SECTION>_<KEY>`` for every key of
``[scheduler]``, ``[logging]`` and ``[secrets]`` (``STS_SCHEDULER_TIMEZONE``,
``STS_LOGGING_FORMAT``). Other ``STS_*`` variables are not configuration keys (some are
the engine's own switches, like ``STS_CONFIG`` or ``STS_SECRETS_DIR``) and are ignored."""

from __future__ import annotations

from collections.abc import Mapping

from .layers import Layer, Setting
from .schema import SECTIONS


def variable_name(section: str, key: str) -> str:
    """The environment variable of a key: ``STS_SCHEDULER_STOP_GRACE``."""
    return f"STS_{section}_{key}".upper()


def environment_layer(environ: Mapping[str, str]) -> Layer:
    settings: dict[str, dict[str, Setting]] = {}
    # LOG_LEVEL first: the more specific STS_LOGGING_LEVEL wins over it.
    if "LOG_LEVEL" in environ:
        settings.setdefault("logging", {})["level"] = Setting(environ["LOG_LEVEL"], "env LOG_LEVEL")
    for section, keys in SECTIONS.items():
        for key in keys:
            variable = variable_name(section, key)
            if variable in environ:
                settings.setdefault(section, {})[key] = Setting(
                    environ[variable], f"env {variable}"
                )
    return Layer("environment", settings, {})

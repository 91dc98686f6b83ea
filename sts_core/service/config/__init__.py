"""Configuration: ``config.ini`` and its layers, jobs declared in it, and the scheduler
it describes.

Layers, later wins: built-in defaults < ``config.ini`` < config sources from plugins <
the environment (``LOG_LEVEL``, ``STS_<SECTION>_<KEY>``) < command-line flags. See
``docs/configuration.md``.
"""

from __future__ import annotations

from .errors import ConfigError, ConfigWarning, Problem
from .loading import load_config
from .model import Config

__all__ = ["Config", "ConfigError", "ConfigWarning", "Problem", "load_config"]

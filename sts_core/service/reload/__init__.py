"""Live reload: a scheduler built from a configuration reads it again (SIGHUP,
``sts reload``, a config source's ``watch()``) and applies the difference, all or
nothing. See docs/configuration.md, "Live reload"."""

from __future__ import annotations

from .diff import ReloadResult
from .registry import reloader_of
from .reloader import Reloader, reloadable_scheduler

__all__ = ["ReloadResult", "Reloader", "reloadable_scheduler", "reloader_of"]

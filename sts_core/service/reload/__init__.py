"""Live reload: a scheduler built from a configuration reads it again (SIGHUP,
``sts reload``, a config source's ``watch()``) and applies the difference, all or
nothing. See docs/configuration.md, "Live reload".

Names are imported on first use: a starting scheduler asks ``registry.reloader_of``
without importing the configuration machinery the reloader needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exports import lazy_exports

if TYPE_CHECKING:
    from .diff import ReloadResult as ReloadResult
    from .registry import reloader_of as reloader_of
    from .reloader import Reloader as Reloader
    from .reloader import reloadable_scheduler as reloadable_scheduler

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ReloadResult": ".diff",
        "reloader_of": ".registry",
        "Reloader": ".reloader",
        "reloadable_scheduler": ".reloader",
    },
)

"""The project name and pluggy's markers: ``sts.hookimpl`` is defined here, once.

Its own module so that ``import sts`` (which re-exports ``hookimpl``) does not load the
hook specifications.
"""

from __future__ import annotations

import pluggy

#: The project name: of the spec marker, the implementation marker and the entry-point group.
PROJECT = "sts"
hookspec = pluggy.HookspecMarker(PROJECT)
#: The marker for hook implementations, re-exported as ``sts.hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT)

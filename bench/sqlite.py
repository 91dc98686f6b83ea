"""The SQLite state store for the persistence workloads, made as ``sts run`` makes it."""

from __future__ import annotations

from pathlib import Path

import sts


def sqlite_store(path: Path) -> sts.StateStore:
    """The ``sqlite`` state store (job state and run history) in the file ``path``.

    :raises sts.PluginError: when no installed plugin provides the ``sqlite`` store.
    """
    factory = sts.create_plugins().state_stores.get("sqlite")
    store: sts.StateStore = factory("bench", path=str(path))
    return store

"""The last configuration read from etcd, kept on disk next to the state file, so that a
scheduler whose etcd is down at start can start from it (with a warning)."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path

import platformdirs

from .layout import Entry

#: Where STS keeps each scheduler's state file (the core's own choice, sts_core paths).
APP = "sts"


def default_cache_file(scheduler_name: str) -> Path:
    """``<user data dir>/sts/<scheduler>.etcd.json``, beside ``<scheduler>.db``."""
    directory = Path(platformdirs.PlatformDirs(APP, appauthor=False).user_data_dir)
    return directory / f"{scheduler_name}.etcd.json"


def write_cache(path: Path, prefix: str, revision: int, entries: list[Entry]) -> None:
    """Replace the cache atomically (a crash leaves the old one or the new one), readable
    by its owner only: values may be secrets' references, or worse, secrets."""
    document = {
        "prefix": prefix,
        "revision": revision,
        "entries": [
            [entry.key, base64.b64encode(entry.value).decode(), entry.mod_revision]
            for entry in entries
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(document, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_cache(path: Path, prefix: str) -> tuple[int, list[Entry]] | None:
    """The cached revision and entries, or ``None`` when there is no usable cache (none,
    unreadable, or written for another prefix)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("prefix") != prefix:
            return None
        entries = [
            Entry(str(key), base64.b64decode(value), int(revision))
            for key, value, revision in document["entries"]
        ]
        return int(document["revision"]), entries
    except (OSError, ValueError, KeyError, TypeError):
        return None

"""The key layout: one etcd key per option, readable and writable by hand with etcdctl.

Under the prefix (``/sts/<scheduler>/`` by default):

- ``<section>/<key>``: ``scheduler/timezone``, ``logging/level``, ``notify/notify``,
  ``email/host`` (a plain section);
- ``<kind>/<name>/<key>``: ``job/backup/schedule``, ``source/x/option``,
  ``secrets/vault/url``, ``logging/syslog/address`` (a section ``[<kind>:<name>]``).

Any other key under the prefix is an error naming the key and its revision: a typo in
etcd must not be ignored any more than one in a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Kinds whose sections are named: ``[job:NAME]``. ``logging`` and ``secrets`` are both a
#: plain section and a kind; the number of parts tells which.
NAMED_KINDS = ("job", "source", "secrets", "logging")
#: Kinds that are only ever named: ``job/backup`` alone is a typo, not a section ``[job]``.
ONLY_NAMED = ("job", "source")

EXAMPLE = "job/backup/schedule or scheduler/timezone"


@dataclass(frozen=True, slots=True)
class Entry:
    """One key-value of etcd, with the revision it was last written at."""

    key: str
    value: bytes
    mod_revision: int

    @property
    def origin(self) -> str:
        """``etcd:<key>@<revision>``: where ``sts config`` and errors say a value came from."""
        return f"etcd:{self.key}@{self.mod_revision}"


class LayoutError(ValueError):
    """A key under the prefix that names no section and key, or a value that is no text."""


def section_and_key(relative: str) -> tuple[str, str] | None:
    """``("job:backup", "schedule")`` for ``job/backup/schedule``; ``None`` if it is none."""
    parts = relative.split("/")
    if any(not part.strip() for part in parts):
        return None
    if len(parts) == 2 and parts[0] not in ONLY_NAMED:
        return parts[0], parts[1]
    if len(parts) == 3 and parts[0] in NAMED_KINDS:
        return f"{parts[0]}:{parts[1]}", parts[2]
    return None


def sections_from(entries: Iterable[Entry], prefix: str) -> dict[str, dict[str, tuple[str, str]]]:
    """Section -> key -> ``(value, origin)``, as a config source's ``load()`` returns them.

    :raises LayoutError: naming every key that is not ``<section>/<key>`` or
        ``<kind>/<name>/<key>``, or whose value is not UTF-8, with its revision.
    """
    sections: dict[str, dict[str, tuple[str, str]]] = {}
    problems = []
    for entry in entries:
        relative = entry.key[len(prefix) :]
        place = section_and_key(relative)
        if place is None:
            problems.append(
                f"{entry.origin}: the key names no section and key under {prefix}: expected "
                f"{prefix}<section>/<key> or {prefix}<kind>/<name>/<key> with kind one of "
                f"{', '.join(NAMED_KINDS)}, e.g. {prefix}{EXAMPLE}"
            )
            continue
        try:
            text = entry.value.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(f"{entry.origin}: the value is not UTF-8 text (byte {error.start})")
            continue
        section, key = place
        sections.setdefault(section, {})[key] = (text, entry.origin)
    if problems:
        raise LayoutError("; ".join(problems))
    return sections

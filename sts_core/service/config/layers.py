"""Settings in layers: each value remembers where it came from, a later layer wins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Setting:
    """A value and where it came from (``default``, ``/x/sts.ini:12``, ``env LOG_LEVEL``)."""

    value: str
    origin: str


@dataclass(slots=True)
class Layer:
    """What one source says: section -> key -> setting, and where each section starts."""

    name: str
    settings: dict[str, dict[str, Setting]]
    section_origins: dict[str, str]

    @classmethod
    def from_mapping(cls, name: str, values: Mapping[str, Mapping[str, object]]) -> Layer:
        """A layer whose every value has the origin ``name`` (values become text), or its
        own: a value may be a ``(value, origin)`` pair (``etcd:/sts/x/job/a/schedule@42``)."""
        settings = {
            str(section): {str(key).lower(): _setting(value, name) for key, value in keys.items()}
            for section, keys in values.items()
        }
        return cls(name, settings, {section: name for section in settings})


def _setting(value: object, origin: str) -> Setting:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
        return Setting(_text(value[0]), value[1])
    return Setting(_text(value), origin)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Settings:
    """The layers merged, key by key: a later layer wins."""

    def __init__(self) -> None:
        self.sections: dict[str, dict[str, Setting]] = {}
        self.section_origins: dict[str, str] = {}

    def add(self, layer: Layer) -> None:
        for section, keys in layer.settings.items():
            self.sections.setdefault(section, {}).update(keys)
            if section not in self.section_origins or section in layer.section_origins:
                # A section's origin is where it was declared last, for error messages.
                self.section_origins[section] = layer.section_origins.get(section, layer.name)

    def get(self, section: str, key: str) -> Setting | None:
        return self.sections.get(section, {}).get(key)

    def value(self, section: str, key: str) -> str | None:
        setting = self.get(section, key)
        return None if setting is None else setting.value

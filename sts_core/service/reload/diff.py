"""The outcome of a reload: what was added, removed and changed, or why nothing was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Keys whose change moves a job's fires: its next fire is computed anew.
SCHEDULE_KEYS = frozenset({"schedule", "timezone", "start", "end", "[scheduler] timezone"})


@dataclass(slots=True)
class ReloadResult:
    """What one reload did. ``ok`` false: the new configuration was refused as a whole and
    ``errors`` say why (with file and line, or source key and revision); nothing changed."""

    ok: bool
    trigger: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    unchanged: int = 0
    #: Settings that changed but apply only at the next start (``[scheduler] state``).
    at_next_start: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        """``+1 -0 ~2``: jobs added, removed and changed."""
        return f"+{len(self.added)} -{len(self.removed)} ~{len(self.changed)}"

    def describe(self) -> list[str]:
        """The result as lines for a person: the summary, then one line per job."""
        if not self.ok:
            return [
                f"reload refused ({self.trigger}): the running configuration stays",
                *(f"  {error}" for error in self.errors),
            ]
        lines = [f"reloaded ({self.trigger}): {self.summary}, {self.unchanged} unchanged"]
        lines += [f"  + {name}" for name in self.added]
        lines += [f"  - {name}" for name in self.removed]
        lines += [f"  ~ {name}: {', '.join(keys)}" for name, keys in self.changed.items()]
        if self.at_next_start:
            lines.append(f"  warning: {self.fixed_warning()}")
        return lines

    def fixed_warning(self) -> str:
        return (
            f"these settings cannot change while the scheduler runs and take effect at its "
            f"next start: {', '.join(self.at_next_start)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """As the control protocol sends it (the ``reload`` answer, the ``reloaded`` event)."""
        return {
            "ok": self.ok,
            "trigger": self.trigger,
            "summary": self.summary,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": {name: list(keys) for name, keys in self.changed.items()},
            "unchanged": self.unchanged,
            "at_next_start": list(self.at_next_start),
            "errors": list(self.errors),
            "seconds": round(self.seconds, 6),
        }

"""Configuration errors: each problem names where it is (file and line, or the
environment variable), the section, the key, and what would be valid."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the configuration."""

    message: str
    """What is wrong and what would be valid; never a secret's value."""
    origin: str | None = None
    """Where the value came from: ``/etc/sts.ini:12``, ``env STS_SCHEDULER_TIMEZONE``."""
    section: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = []
        if self.origin:
            where.append(self.origin)
        if self.section is not None:
            where.append(f"[{self.section}]" + (f" {self.key}" if self.key else ""))
        return ": ".join([*where, self.message])


class ConfigError(ValueError):
    """The configuration is invalid. ``str(error)`` names the file, the line, the section,
    the key and what would be valid, for every problem found (not only the first)."""

    def __init__(self, problems: Iterable[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = Problem(problems)
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{len(self.problems)} problems in the configuration:"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


class ConfigWarning(UserWarning):
    """Something in the configuration works but is risky (a plain-text secret)."""

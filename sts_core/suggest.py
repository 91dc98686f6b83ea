""" "Did you mean" for every name STS looks up: job options, task types, policy keywords,
time zones, trigger kinds, commands, config keys and sections."""

from __future__ import annotations

from collections.abc import Iterable


def close_matches(name: str, candidates: Iterable[str], n: int = 2) -> list[str]:
    """The known names closest to ``name`` (typos of it), best first; at most ``n``."""
    import difflib  # on error only: the modules that import this load with `sts --help`

    known = [candidate for candidate in candidates if candidate != name]
    found = difflib.get_close_matches(name, known, n=n)
    if not found:  # case typos ('europe/berlin') are far by difflib's ratio
        lowered = {candidate.lower(): candidate for candidate in known}
        found = [lowered[m] for m in difflib.get_close_matches(name.lower(), lowered, n=n)]
    return found


def did_you_mean(name: str, candidates: Iterable[str], template: str = "{!r}") -> str:
    """`` (did you mean 'retries'?)`` when ``name`` is a typo of a candidate, else ``""``;
    two close ones are both named (``retry``: ``'retry_on' or 'retries'``).

    :param template: how a suggestion is written, ``"[{}]"`` for a section.
    """
    matches = [template.format(match) for match in close_matches(name, candidates)]
    return f" (did you mean {' or '.join(matches)}?)" if matches else ""

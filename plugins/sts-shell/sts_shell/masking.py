"""Hide secret values that a command prints, before its output reaches a log or the store."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .output import Mask

#: Shorter secrets are not masked: hiding every "a" of the output would hide the output.
MIN_MASKED_LENGTH = 4
MASKED = "***"


def make_mask(secrets: Iterable[str]) -> Mask:
    """A function that replaces every occurrence of the ``secrets`` with ``***``."""
    values = sorted({value for value in secrets if len(value) >= MIN_MASKED_LENGTH}, key=len)
    if not values:
        return _unchanged
    # Longest first, so that a secret containing another is masked whole.
    pattern = re.compile("|".join(re.escape(value) for value in reversed(values)))
    return lambda text: pattern.sub(MASKED, text)


def _unchanged(text: str) -> str:
    return text

"""Booleans written as text: ``true``/``false`` and their usual synonyms."""

from __future__ import annotations

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})
#: What ``parse_boolean`` accepts, quoted in its errors.
BOOLEAN_FORMS = "true or false (yes/no, on/off, 1/0)"


def parse_boolean(value: bool | str, *, what: str = "value") -> bool:
    """``value`` as a bool: a bool, or text in any case.

    :raises ValueError: naming ``what``, the value and the accepted words.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"invalid {what} {value!r}: expected {BOOLEAN_FORMS}")

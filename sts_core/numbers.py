"""Whole numbers written as text or given as numbers: counts in policies and options."""

from __future__ import annotations


def parse_whole_number(value: object, *, what: str) -> int:
    """``value`` as an int >= 0: an int, a float without a fraction, or its text.

    :raises ValueError: naming ``what`` and the value.
    """
    problem = f"invalid {what} {value!r}: expected a whole number >= 0"
    if isinstance(value, bool):  # True == 1, yet retries = true is a mistake
        raise ValueError(problem)
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(problem) from None
    if number < 0 or (isinstance(value, float) and value != number):
        raise ValueError(problem)
    return number

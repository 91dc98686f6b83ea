"""Whole numbers written as text or given as numbers: counts in policies and options."""

from __future__ import annotations


def parse_whole_number(
    value: object, *, what: str, minimum: int = 0, maximum: int | None = None
) -> int:
    """``value`` as an int >= ``minimum`` (and <= ``maximum``, if given): an int, a float
    without a fraction, or its text.

    :raises ValueError: naming ``what``, the value and the valid range.
    """
    valid = (
        f"a whole number >= {minimum}"
        if maximum is None
        else f"a whole number from {minimum} to {maximum}"
    )
    problem = f"invalid {what} {value!r}: expected {valid}"
    if isinstance(value, bool):  # True == 1, yet retries = true is a mistake
        raise ValueError(problem)
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        raise ValueError(problem) from None
    too_big = maximum is not None and number > maximum
    if number < minimum or too_big or (isinstance(value, float) and value != number):
        raise ValueError(problem)
    return number

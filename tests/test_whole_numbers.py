"""``sts.parse_whole_number``: counts in policies and plugins' options."""

from __future__ import annotations

import pytest

import sts


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "expected"),
    [("5", 0, None, 5), (3, 1, None, 3), (2.0, 1, 10, 2), (" 10 ", 1, 10, 10), (0, 0, 0, 0)],
)
def test_whole_numbers_in_range_are_read(
    value: object, minimum: int, maximum: int | None, expected: int
) -> None:
    assert sts.parse_whole_number(value, what="n", minimum=minimum, maximum=maximum) == expected


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "message"),
    [
        (0, 1, None, "invalid group_max 0: expected a whole number >= 1"),
        (-1, 0, None, "invalid group_max -1: expected a whole number >= 0"),
        (11, 1, 10, "invalid group_max 11: expected a whole number from 1 to 10"),
        (True, 0, None, "invalid group_max True: expected a whole number >= 0"),
        (2.5, 0, None, "invalid group_max 2.5: expected a whole number >= 0"),
        ("ten", 1, None, "invalid group_max 'ten': expected a whole number >= 1"),
    ],
)
def test_the_error_names_the_option_the_value_and_the_range(
    value: object, minimum: int, maximum: int | None, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        sts.parse_whole_number(value, what="group_max", minimum=minimum, maximum=maximum)
    assert str(raised.value) == message

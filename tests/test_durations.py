from __future__ import annotations

from datetime import timedelta

import pytest

from sts_core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("10s", 10),
        ("5m", 300),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1w", 604800),
        (" 1H 30M ", 5400),
        ("2.5s", 2.5),
        ("10", 10),
        (10, 10),
        (2.5, 2.5),
        (timedelta(minutes=2), 120),
        ("0s", 0),
    ],
)
def test_accepted_forms(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "ten", "10x", "s10", "1h30", "-5s", "5s-", "1e3", "nan"])
def test_bad_text_names_itself_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_duration(text, what="timeout")
    message = str(error.value)
    assert f"invalid timeout {text!r}" in message


@pytest.mark.parametrize("value", [-1, float("inf"), True, None, [1]])
def test_bad_values(value: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [0, 0.5, 1, 59, 61, 3600, 5400, 90061.5])
def test_format_round_trips(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from config_helpers import make_plugins, write_config

from sts_core.durations import format_duration, parse_duration
from sts_core.service.config import ConfigError, load_config


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("10s", 10),
        ("5m", 300),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1w", 604800),
        (" 1H 30m ", 5400),
        # systemd.time(7)'s spellings
        ("5min", 300),
        ("10sec", 10),
        ("2 hours", 7200),
        ("1 day", 86400),
        ("1h 30min", 5400),
        ("3 weeks", 1814400),
        ("1 minute 5 seconds", 65),
        ("2hr", 7200),
        ("250msec", 0.25),
        ("1.5 h", 5400),
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


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("5M", "'M' could mean minutes or months: write 'min'"),
        ("1h 30M", "'M' could mean minutes or months"),
        ("1 month", "'month' has no fixed length: write days ('30d')"),
        ("2y", "'y' has no fixed length"),
        ("5 mins", "unknown unit 'mins' after 5"),
    ],
)
def test_ambiguous_or_unknown_units_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_duration(text)
    assert str(error.value).startswith(f"invalid duration {text!r}: {reason}")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[scheduler]\nstop_grace = 5M\n", "[scheduler] stop_grace: invalid value '5M': 'M' could"),
        (
            "[job:report]\ntype = greet\nwho = Ada\nschedule = every 10s\ntimeout = 2 months\n",
            "[job:report] timeout: invalid timeout '2 months': 'months' has no fixed length",
        ),
    ],
)
def test_a_config_file_reports_the_reason_for_an_ambiguous_unit(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={}, plugins=make_plugins()).build_scheduler()
    assert reason in str(error.value)

"""Hypothesis fuzzing of the parsers a user's text reaches: durations, schedule text and
config files. Each may only raise its documented error, never another exception."""

from __future__ import annotations

import math
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from config_helpers import make_plugins
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sts_core.durations import parse_duration
from sts_core.plugins import PluginError
from sts_core.policy import JobPolicy
from sts_core.service.config import ConfigError, load_config
from sts_core.store import MemoryStore

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

units = st.sampled_from(["ms", "s", "m", "h", "d", "w", "", " ", "x", "."])
number_text = st.one_of(
    st.integers(min_value=0, max_value=10**30).map(str),
    st.integers(min_value=10**8, max_value=10**25).map(str),  # where datetime overflows
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"\d{1,400}(\.\d{0,5})?", fullmatch=True),
)
duration_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.tuples(number_text, units), max_size=4).map(
        lambda parts: "".join(number + unit for number, unit in parts)
    ),
)


@FAST
@given(st.one_of(duration_text, st.integers(), st.floats(), st.timedeltas(), st.booleans()))
def test_parse_duration_raises_only_value_error(value: object) -> None:
    try:
        seconds = parse_duration(value)  # type: ignore[arg-type]
    except ValueError:
        return
    assert math.isfinite(seconds) and seconds >= 0


@FAST
@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_parse_duration_reads_what_it_documents(count: int, unit: str) -> None:
    size = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert math.isclose(parse_duration(f"{count}{unit}"), count * size)


_plugins = make_plugins()


@FAST
@given(st.sampled_from(["every", "every", "every", "at", "", "cron", "every every"]), duration_text)
def test_schedule_text_raises_only_the_documented_errors(kind: str, spec: str) -> None:
    try:
        trigger = _plugins.make_trigger(f"{kind} {spec}", timezone=UTC)
    except (ValueError, PluginError):
        return
    # What schedule() asks next: an accepted trigger must answer it.
    first = trigger.next_fire_time(datetime(2026, 1, 1, tzinfo=UTC))
    assert first is None or first.tzinfo is not None


@FAST
@given(st.datetimes(timezones=st.timezones() | st.none()).map(lambda when: when.isoformat()))
def test_at_reads_any_iso_time(text: str) -> None:
    trigger = _plugins.make_trigger(f"at {text}", timezone=UTC)
    assert str(trigger).startswith("at ")


policy_values = st.one_of(duration_text, st.sampled_from(["skip", "yes", "none", "-1", "1e9"]))


@FAST
@given(
    st.dictionaries(
        st.sampled_from([k for k in JobPolicy.KEYS if k != "retry_on"]), policy_values, max_size=4
    )
)
def test_job_policies_raise_only_value_and_type_errors(values: dict[str, str]) -> None:
    try:
        policy = JobPolicy.build(**values)
    except (ValueError, TypeError):
        return
    assert policy.overlap in ("skip", "queue", "allow", "replace")


ini_text = st.lists(
    st.sampled_from(
        [*"[]=:;#\n \t abc%${}\\\"'", "scheduler", "job:", "type", "greet", "schedule", "every"]
    )
    | st.text(max_size=3),
    max_size=60,
).map("".join)


@FAST
@given(st.one_of(ini_text, st.binary(max_size=200)))
def test_any_config_file_raises_only_config_error(content: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sts.ini"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        try:
            config = load_config(path, environ={}, plugins=make_plugins())
            config.render()
            config.jobs()
        except ConfigError:
            pass


@pytest.fixture(scope="module")
def empty_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "empty.ini"
    path.write_text("")
    return path


# Values for the keys a job and [scheduler] read: each must be checked, not crash.
job_keys = st.sampled_from(
    [
        "type",
        "schedule",
        "who",
        "times",
        "loud",
        "ratio",
        "out",
        "tags",
        "pause",
        "every",
        "mode",
        "unknown",
        *JobPolicy.KEYS,
    ]
)
values = st.one_of(
    duration_text,
    st.sampled_from(
        ["greet", "python", "every 10s", "at 2027-01-01T00:00", "${secret:X}", "none", "UTC"]
    ),
).map(lambda text: text.replace("\n", " ").replace("\r", " ").strip())
scheduler_keys = st.sampled_from(["name", "timezone", "stop_grace", "max_workers", "state"])


@FAST
@given(
    st.dictionaries(job_keys, values, max_size=8),
    st.dictionaries(scheduler_keys, values, max_size=3),
)
def test_any_job_values_raise_only_config_error(
    empty_config: Path, job: dict[str, str], scheduler: dict[str, str]
) -> None:
    overrides = {"job:fuzzed": job, "scheduler": {**scheduler, "state": "memory"}}
    try:
        config = load_config(empty_config, environ={}, overrides=overrides, plugins=make_plugins())
        config.build_scheduler(store=MemoryStore())
    except ConfigError:
        pass


def test_a_huge_interval_is_a_value_error() -> None:
    # Found by the fuzzing above: timedelta overflowed with an OverflowError.
    # Then the trigger made the OverflowError on its first fire instead.
    for text in ("every 99999999999999999999d", "every 1000000000000s", "every 400000w"):
        try:
            _plugins.make_trigger(text, timezone=UTC)
        except ValueError as error:
            assert "interval" in str(error)
        else:
            raise AssertionError(f"{text!r} was accepted")
    assert timedelta.max.total_seconds() > 1e9

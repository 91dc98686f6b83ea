"""The key layout: which etcd keys are which section and key, and the errors for others."""

from __future__ import annotations

import pytest
from sts_etcd.layout import Entry, LayoutError, section_and_key, sections_from


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("job/backup/schedule", ("job:backup", "schedule")),
        ("scheduler/timezone", ("scheduler", "timezone")),
        ("logging/level", ("logging", "level")),
        ("logging/syslog/address", ("logging:syslog", "address")),
        ("email/host", ("email", "host")),
        ("job/backup", None),
        ("job", None),
        ("job/backup/schedule/extra", None),
        ("scheduler//timezone", None),
        ("notify/x/y", None),
    ],
)
def test_keys_map_to_sections(relative: str, expected: tuple[str, str] | None) -> None:
    assert section_and_key(relative) == expected


def test_values_carry_their_key_and_revision() -> None:
    entries = [Entry("/sts/a/job/b/schedule", b"every 1s", 7)]
    assert sections_from(entries, "/sts/a/") == {
        "job:b": {"schedule": ("every 1s", "etcd:/sts/a/job/b/schedule@7")}
    }


def test_every_bad_key_is_named_with_its_revision() -> None:
    entries = [
        Entry("/sts/a/job/b", b"x", 3),
        Entry("/sts/a/job/c/type", b"\xff", 4),
        Entry("/sts/a/job/d/type", b"python", 5),
    ]
    with pytest.raises(LayoutError) as raised:
        sections_from(entries, "/sts/a/")
    text = str(raised.value)
    assert "etcd:/sts/a/job/b@3: the key names no section and key under /sts/a/" in text
    assert "etcd:/sts/a/job/c/type@4: the value is not UTF-8 text (byte 0)" in text
    assert "job/d" not in text

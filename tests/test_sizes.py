"""``sts.parse_size``: bytes from a number or text with a unit, one parser for every plugin."""

from __future__ import annotations

import pytest

import sts


@pytest.mark.parametrize(
    ("value", "size"),
    [(0, 0), ("64KiB", 65536), ("1 MiB", 1 << 20), ("500kB", 500_000), ("2GiB", 2 << 30)],
)
def test_sizes(value: int | str, size: int) -> None:
    assert sts.parse_size(value) == size


@pytest.mark.parametrize("value", ["1.5MiB", "KiB", "-1", -1, True, "12 parsecs"])
def test_a_bad_size_names_the_option_and_the_forms(value: object) -> None:
    with pytest.raises(ValueError, match=r"invalid max_response .*(KiB|negative)"):
        sts.parse_size(value, what="max_response")  # type: ignore[arg-type]

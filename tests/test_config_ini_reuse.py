"""Reading a file again reuses its unchanged sections, and gives exactly what a whole
parse gives: the same values, lines and errors."""

from __future__ import annotations

import pytest

from sts_core.service.config.errors import ConfigError
from sts_core.service.config.ini_reuse import forget, parse_ini_again
from sts_core.service.config.inifile import parse_ini

FIRST = """# a comment before any section
; and another

[scheduler]
name = reuse   ; a comment
timezone = UTC

[job:a]
type = shell
command = echo one
    two          ; a continuation line
schedule = every 1s
[job:b]
type = shell
command = echo [not a header]
schedule = every 2s
"""


def both(text: str, source: str) -> tuple[object, object]:
    whole = parse_ini(text, source)
    again = parse_ini_again(text, source)
    return (whole.settings, whole.section_origins), (again.settings, again.section_origins)


@pytest.mark.parametrize(
    "second",
    [
        FIRST,
        FIRST.replace("every 2s", "every 3s"),
        FIRST.replace("[job:a]\n", "[job:a]\nretries = 2\n"),  # lines below move
        FIRST.replace("timezone = UTC\n", ""),
        FIRST + "\n[job:c]\ntype = shell\ncommand = true\nschedule = every 1h\n",
    ],
)
def test_a_second_read_equals_a_whole_parse(second: str) -> None:
    source = f"/reuse/{hash(second)}.ini"
    forget(source)
    parse_ini_again(FIRST, source)
    whole, again = both(second, source)
    assert again == whole


@pytest.mark.parametrize(
    "broken",
    [
        FIRST + "\n[job:a]\ntype = x\n",  # a section twice
        FIRST.replace("schedule = every 1s", "schedule = every 1s\nschedule = every 2s"),
        FIRST.replace("[job:b]\n", "[job:b]\nnot an option line\n"),
        "key = before any section\n" + FIRST,
        # Indented, [job:b] continues the value above: job:a then has its keys twice.
        FIRST.replace("[job:b]", "  [job:b]"),
    ],
)
def test_errors_read_as_those_of_a_whole_parse(broken: str) -> None:
    source = f"/reuse/broken-{hash(broken)}.ini"
    forget(source)
    parse_ini_again(FIRST, source)
    with pytest.raises(ConfigError) as whole:
        parse_ini(broken, source)
    with pytest.raises(ConfigError) as again:
        parse_ini_again(broken, source)
    assert str(again.value) == str(whole.value)

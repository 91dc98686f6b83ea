"""``sts reload``: the running scheduler reads its configuration again and applies the
difference; the diff is printed, or the errors (exit 2) when it refused the new one."""

from __future__ import annotations

import argparse

from ..printable import printable
from .context import CommandContext
from .errors import OK, USAGE_ERROR


def reload(args: argparse.Namespace) -> int:
    context = CommandContext(args)
    # No timeout: reading a slow config source is part of the answer.
    result = context.must_ask("reload", timeout=None)
    for line in describe(result):
        print(printable(line))
    return OK if result.get("ok") else USAGE_ERROR


def describe(result: dict[str, object]) -> list[str]:
    """The answer of ``reload`` as lines (the same words as the scheduler's log)."""
    from ..reload.diff import ReloadResult

    fields = {key: result.get(key) for key in ReloadResult.__dataclass_fields__}
    fields = {key: value for key, value in fields.items() if value is not None}
    return ReloadResult(**fields).describe()  # type: ignore[arg-type]

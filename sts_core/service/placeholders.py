"""A run's facts as text, and the placeholders that stand for them in a task's options.

Task types offer their users ``{job}``, ``{fire_time}``, ``{run_id}``, ``{attempt}`` and
``{idempotency_key}`` (the shell task in a command's arguments, the webhook task in its URL,
headers and body); ``{{job}}`` is a literal ``{job}``, and any other text in braces (a JSON
object, an awk program) is left alone. Filling never re-parses the result: a value with
spaces or quotes stays one value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from ..records import current_run

__all__ = ["PLACEHOLDER", "PLACEHOLDER_NAMES", "fill_placeholders", "run_facts"]

#: The facts a placeholder may name.
PLACEHOLDER_NAMES = ("job", "fire_time", "run_id", "attempt", "idempotency_key")
_NAMES = "|".join(PLACEHOLDER_NAMES)
#: ``{name}``, or its escape ``{{name}}`` (group 1), for the names above.
PLACEHOLDER = re.compile(rf"\{{\{{({_NAMES})\}}\}}|\{{({_NAMES})\}}")


def run_facts(task_name: str) -> dict[str, str]:
    """The facts of the run under way, by placeholder name; outside a scheduler (a task
    awaited directly) those of a run of its own, named ``task_name``, starting now."""
    try:
        run = current_run()
    except LookupError:
        fire_time = datetime.now(UTC).isoformat()
        return {
            "job": task_name,
            "fire_time": fire_time,
            "run_id": os.urandom(8).hex(),
            "attempt": "1",
            "idempotency_key": f"{task_name}@{fire_time}",
        }
    return {
        "job": run.job,
        "fire_time": run.fire_time.isoformat(),
        "run_id": run.run_id,
        "attempt": str(run.attempt),
        "idempotency_key": run.idempotency_key,
    }


def fill_placeholders(
    text: str, facts: Mapping[str, str], *, escape: Callable[[str], str] | None = None
) -> str:
    """``text`` with each placeholder replaced by its fact, passed through ``escape`` (a
    URL's percent-encoding, say) when given."""
    if "{" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "{" + escaped + "}"
        return facts[name] if escape is None else escape(facts[name])

    return PLACEHOLDER.sub(replace, text)

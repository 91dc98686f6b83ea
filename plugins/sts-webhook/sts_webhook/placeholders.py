"""The run's facts in a request: ``{job}``, ``{fire_time}``, ``{run_id}``, ``{attempt}``,
``{idempotency_key}`` in the URL, the headers and the body.

Each value is escaped for where it lands: percent-encoded in a URL, a JSON string inside a
JSON body, as is in a header or a plain body. ``{{job}}`` is a literal ``{job}``; any other
text in braces (a JSON object, say) is left alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import sts

NAMES = ("job", "fire_time", "run_id", "attempt", "idempotency_key")
_NAMES = "|".join(NAMES)
PLACEHOLDER = re.compile(rf"\{{\{{({_NAMES})\}}\}}|\{{({_NAMES})\}}")


def run_facts(run: sts.RunContext | None, task_name: str) -> dict[str, str]:
    """The facts placeholders stand for; a run of its own, starting now, outside a scheduler
    (a task awaited directly)."""
    if run is None:
        fire_time = datetime.now(UTC)
        return {
            "job": task_name,
            "fire_time": fire_time.isoformat(),
            "run_id": os.urandom(8).hex(),
            "attempt": "1",
            "idempotency_key": f"{task_name}@{fire_time.isoformat()}",
        }
    return {
        "job": run.job,
        "fire_time": run.fire_time.isoformat(),
        "run_id": run.run_id,
        "attempt": str(run.attempt),
        "idempotency_key": run.idempotency_key,
    }


def fill(text: str, facts: Mapping[str, str], *, in_url: bool = False) -> str:
    """``text`` with each placeholder replaced by its fact (percent-encoded ``in_url``)."""
    if "{" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "{" + escaped + "}"
        return quote(facts[name], safe="") if in_url else facts[name]

    return PLACEHOLDER.sub(replace, text)


def fill_json(value: Any, facts: Mapping[str, str]) -> Any:
    """A JSON value with placeholders filled in every string, keys included: the JSON
    encoder escapes the facts afterwards, so a value can never break the document."""
    if isinstance(value, str):
        return fill(value, facts)
    if isinstance(value, dict):
        return {fill(str(key), facts): fill_json(item, facts) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [fill_json(item, facts) for item in value]
    return value


def has_placeholder(value: Any) -> bool:
    """Whether a value (a JSON value, text) holds any placeholder."""
    if isinstance(value, str):
        return PLACEHOLDER.search(value) is not None
    if isinstance(value, dict):
        return any(has_placeholder(key) or has_placeholder(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(has_placeholder(item) for item in value)
    return False

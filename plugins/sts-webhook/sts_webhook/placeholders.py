"""The run's facts in a request: ``{job}``, ``{fire_time}``, ``{run_id}``, ``{attempt}``,
``{idempotency_key}`` in the URL, the headers and the body.

Each value is escaped for where it lands: percent-encoded in a URL, a JSON string inside a
JSON body, as is in a header or a plain body. ``{{job}}`` is a literal ``{job}``; any other
text in braces (a JSON object, say) is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import quote

import sts

NAMES = sts.PLACEHOLDER_NAMES
_url_escape = partial(quote, safe="")


def fill(text: str, facts: Mapping[str, str], *, in_url: bool = False) -> str:
    """``text`` with each placeholder replaced by its fact (percent-encoded ``in_url``)."""
    return sts.fill_placeholders(text, facts, escape=_url_escape if in_url else None)


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
        return sts.PLACEHOLDER.search(value) is not None
    if isinstance(value, dict):
        return any(has_placeholder(key) or has_placeholder(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(has_placeholder(item) for item in value)
    return False

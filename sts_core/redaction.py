"""Secret values hidden wherever STS shows text.

Every secret value resolved (``sts.resolve_secrets``, in the service) is remembered here, in
memory only, so that :func:`redact` can blank it out of log lines, run records and error
messages, in every form a value takes on its way out: as is, inside a ``repr()`` or
``ascii()`` (quotes, backslashes, newlines escaped), inside JSON (escaped, with or without
``\\uXXXX``), and those forms nested once more (a ``repr`` inside JSON). :func:`redact` is
the one choke point: the log sinks and the run records pass through it.

Where secrets come from (``${secret:NAME}``, the providers) is the service's business
(``sts_core/service/secrets.py``); the engine only hides what was revealed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from typing import Any

#: What replaces a secret wherever it would be shown.
REDACTED = "********"
#: Shorter resolved values are not redacted from text: blanking every "ab" would garble logs.
MIN_REDACTED_LENGTH = 4


class SecretError(LookupError):
    """A secret could not be resolved. The message names the secret, never a value."""


_lock = threading.Lock()
_revealed: set[str] = set()
_pattern: re.Pattern[str] | None = None
_longest = 0


def reveal(value: str) -> None:
    """Remember ``value`` as a secret: it is redacted from everything STS shows from now on."""
    global _pattern
    if len(value) >= MIN_REDACTED_LENGTH and value not in _revealed:
        with _lock:
            _revealed.add(value)
            _pattern = None


def forget_revealed() -> None:
    """Forget the values resolved so far (for tests: one test's secret is not another's)."""
    global _pattern
    with _lock:
        _revealed.clear()
        _pattern = None


def redact(text: str) -> str:
    """``text`` with every secret value resolved so far, in any of its encoded forms,
    replaced by ``********``.

    Cheap enough for every line a command prints: one compiled pattern, rebuilt only when
    a new secret is resolved.
    """
    if not _revealed:
        return text
    return _compiled().sub(REDACTED, text)


def redact_record(record: logging.LogRecord) -> None:
    """Hide resolved secrets in a log record before any handler sees it: its message,
    formatted once, and its traceback, kept as redacted text (``exc_text``, which
    ``logging.Formatter`` prints) instead of the exception, which a handler could format
    again from the frames. Never raises: a record whose arguments do not fit its message
    keeps both, shown as they are, instead of failing the caller. (Fields given with
    ``extra=`` are added after the record is made: STS redacts those where it makes them.)"""
    try:
        message = record.getMessage()
    except Exception:  # bad arguments: what logging would report, shown as they are
        message = f"{record.msg!r} % {record.args!r}"
    masked = redact(message)
    if masked != message or record.args:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(record.exc_info[1])).rstrip("\n")
        record.exc_text, record.exc_info = redact(text), None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def _install_record_redaction() -> None:
    """One choke point for every log record of an STS logger (``sts``, ``sts.*``), for
    every handler: STS's sinks, a plugin's, or the application's own. It costs nothing
    until a secret has been resolved."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts_sts_records", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _revealed and (record.name == "sts" or record.name.startswith("sts.")):
            redact_record(record)
        return record

    factory.redacts_sts_records = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


_install_record_redaction()


def redaction_margin() -> int:
    """How many characters at the end of a text may be the start of a secret still
    arriving: a stream split into pieces holds back that many between pieces, so that no
    secret is cut in two and shown half in each (0 while no secret is resolved)."""
    if not _revealed:
        return 0
    _compiled()
    return max(_longest - 1, 0)


def _compiled() -> re.Pattern[str]:
    global _pattern, _longest
    pattern = _pattern
    if pattern is None:
        with _lock:
            forms = {form for value in _revealed for form in encoded_forms(value)}
            # Longest first, so that a secret containing another is hidden whole.
            ordered = sorted(forms, key=len, reverse=True)
            _longest = len(ordered[0])
            pattern = _pattern = re.compile("|".join(map(re.escape, ordered)))
    return pattern


def encoded_forms(value: str) -> set[str]:
    """``value`` as it may appear in text: as is, escaped by ``repr``/``ascii`` (with
    either quote), by JSON (with or without ``ensure_ascii``), and each of these escaped
    once more (an error message quoting a ``repr``, logged as JSON)."""
    forms = {value}
    for _ in range(2):
        forms |= {escaped for form in forms for escaped in _escaped_forms(form)}
    return forms


def _escaped_forms(value: str) -> list[str]:
    forms = []
    for python_quote in (repr, ascii):
        # Appending both quotes makes repr() choose ' and escape it: the escaped-quote form;
        # inside a text that holds no ", repr() leaves ' as it is: the other form.
        escaped = python_quote(value + "'\"")[1:-4]
        forms += [escaped, escaped.replace("\\'", "'")]
    forms += [json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]]
    return forms

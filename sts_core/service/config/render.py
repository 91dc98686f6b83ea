"""``sts config``: every effective value with where it came from, secrets redacted."""

from __future__ import annotations

from collections.abc import Sequence

from ...redaction import REDACTED, redact
from ..secrets import has_secret, looks_secret, redact_embedded
from .layers import Settings
from .schema import OPEN_SECTIONS, SECTIONS

#: Values are padded to this column so the origins line up (long values push them out).
ORIGIN_COLUMN = 40


def shown(key: str, value: str) -> str:
    """A value as ``sts config`` shows it: a plain-text secret is redacted, under a
    secret-like key or a secret-like name inside the value (``env = PGPASSWORD=...``); a
    reference (``${secret:NAME}``) is shown, since it only names the secret."""
    if looks_secret(key) and value.strip() and not has_secret(value):
        return REDACTED
    return redact(redact_embedded(value))


def render_settings(settings: Settings, header: str, *, warnings: Sequence[str] = ()) -> str:
    """INI text: valid to read back, each value followed by ``; <origin>``, the
    ``warnings`` as ``# warning:`` comments under the header."""
    order = [name for name in (*SECTIONS, *OPEN_SECTIONS) if name in settings.sections]
    order += [name for name in settings.sections if name not in order]
    lines = [f"# {header}", *(f"# warning: {warning}" for warning in warnings)]
    for section in order:
        keys = settings.sections[section]
        if not keys:
            continue
        known = list(SECTIONS.get(section, {}))
        ordered = [key for key in known if key in keys] + [key for key in keys if key not in known]
        lines += ["", f"[{section}]"]
        for key in ordered:
            setting = keys[key]
            value = shown(key, setting.value).replace("\n", "\n    ")
            entry = f"{key} = {value}".rstrip()
            lines.append(f"{entry.ljust(ORIGIN_COLUMN)} ; {setting.origin}")
    return "\n".join(lines) + "\n"

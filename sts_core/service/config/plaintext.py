"""A warning for secrets written in plain text in a config file other users can read."""

from __future__ import annotations

import stat
from pathlib import Path

from ...secrets import has_secret, looks_secret
from .layers import Layer

#: Read permission for the group or for others.
SHARED_READ = stat.S_IRGRP | stat.S_IROTH


def plain_text_secret_warnings(path: Path, layer: Layer) -> list[str]:
    """One warning per secret-like key (``password``, ``token``, ``api_key``...) holding
    plain text, when the file is readable by the group or others. Never quotes a value."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if not mode & SHARED_READ:
        return []
    warnings = []
    for section, keys in layer.settings.items():
        for key, setting in keys.items():
            if looks_secret(key) and setting.value.strip() and not has_secret(setting.value):
                warnings.append(
                    f"{setting.origin}: [{section}] {key} holds what looks like a plain-text "
                    f"secret, and {path} is readable by other users (mode "
                    f"{stat.filemode(mode)}): use ${{secret:NAME}} (resolved from the "
                    f"environment or a secrets directory), or chmod 600 {path}"
                )
    return warnings

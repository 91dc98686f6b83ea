"""A warning for secrets written in plain text in a config file other users can read."""

from __future__ import annotations

import stat
from pathlib import Path

from ..secrets import embedded_secrets, has_secret, looks_secret
from .layers import Layer

#: Read permission for the group or for others.
SHARED_READ = stat.S_IRGRP | stat.S_IROTH


def plain_text_secret_warnings(path: Path, layer: Layer) -> list[str]:
    """One warning per secret-like key (``password``, ``token``, ``api_key``...) holding
    plain text, or value holding a secret-like name with plain text (``env =
    PGPASSWORD=...``), when the file is readable by the group or others. Never quotes a
    value."""
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
                what = "what looks like a plain-text secret"
            else:
                names = sorted({name for name, _, _ in embedded_secrets(setting.value)})
                if not names:
                    continue
                what = f"what looks like a plain-text secret in {', '.join(names)}"
            warnings.append(
                f"{setting.origin}: [{section}] {key} holds {what}, and {path} is readable "
                f"by other users (mode {stat.filemode(mode)}): use ${{secret:NAME}} "
                f"(resolved from the environment or a secrets directory), or chmod 600 {path}"
            )
    return warnings

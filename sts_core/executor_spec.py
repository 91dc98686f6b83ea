"""The text of a job's ``executor`` policy: ``NAME`` or ``NAME:TARGET``."""

from __future__ import annotations

import re

#: The executor of jobs that name none: the in-process runner.
LOCAL = "local"
_SPEC = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*)(?::(?P<target>[A-Za-z0-9][\w.-]*))?")


def parse_executor(spec: object) -> tuple[str, str | None]:
    """``"rabbitmq:gpu"`` -> ``("rabbitmq", "gpu")``; ``"local"`` -> ``("local", None)``.

    :raises ValueError: saying what a valid value looks like.
    """
    match = _SPEC.fullmatch(spec.strip()) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(
            f"invalid executor {spec!r}: expected NAME or NAME:TARGET, such as 'local', "
            f"'rabbitmq' or 'rabbitmq:gpu' (letters, digits, '_', '-'; a target may add '.')"
        )
    return match["name"], match["target"]

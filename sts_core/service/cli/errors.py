"""How a command ends other than with success: the exit code and a sentence for stderr."""

from __future__ import annotations

#: The exit codes of every ``sts`` command.
OK = 0
JOB_FAILED = 1
USAGE_ERROR = 2


class CommandError(Exception):
    """Stops a command: ``message`` goes to stderr (no traceback) and ``code`` is the exit
    code (2, usage or configuration, unless given)."""

    def __init__(self, message: str, code: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

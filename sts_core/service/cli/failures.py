"""Expected failures of any ``sts`` command, turned into one ``sts CMD: error: ...`` line
and the documented exit code: the one place that decides what is the user's to fix
(shown as a sentence) and what is a bug (shown with its traceback)."""

from __future__ import annotations

import errno
import os
import sys

from .errors import USAGE_ERROR, CommandError

#: Exit code of a command whose output pipe was closed (``sts jobs | head -1``): what a
#: shell reports for a process ended by SIGPIPE (128 + 13).
BROKEN_PIPE = 141

#: OS errors that come from the machine's state, not from a bug: a read-only or full disk,
#: a directory owned by another user, a missing file or executable.
_ENVIRONMENT_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ENOENT,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.EADDRINUSE,
    errno.ENAMETOOLONG,
}


def _expected_types() -> tuple[type[BaseException], ...]:
    # Imported only when something was raised: `sts --help` must not pay for them.
    from ...plugins import PluginError
    from ...redaction import SecretError
    from ..config import ConfigError
    from ..control.server import ControlSocketInUse
    from ..paths import RuntimeDirectoryError
    from ..sqlite_store import StateStoreError

    return (
        ConfigError,
        PluginError,
        StateStoreError,
        SecretError,
        ControlSocketInUse,
        RuntimeDirectoryError,
    )


def expected_failure(error: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code of an expected failure; ``None`` for a bug."""
    if isinstance(error, CommandError):
        return error.message, error.code
    if isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        return expected_failure(error.exceptions[0])  # raised inside a task group
    if isinstance(error, _expected_types()):
        return str(error), USAGE_ERROR
    if isinstance(error, OSError) and error.errno in _ENVIRONMENT_ERRNOS:
        return _os_error_text(error), USAGE_ERROR
    return None


def _os_error_text(error: OSError) -> str:
    reason = error.strerror or str(error)
    if error.filename is None:
        return reason[:1].lower() + reason[1:]
    return f"{reason[:1].lower() + reason[1:]}: {os.fsdecode(error.filename)}"


def silence_broken_stdout() -> None:
    """After EPIPE on stdout: point it at /dev/null so that the interpreter's final flush
    does not fail again (the way the Python docs advise for SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (a test's capture): nothing to do
        pass
    finally:
        os.close(devnull)

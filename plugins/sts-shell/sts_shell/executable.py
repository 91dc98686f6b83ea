"""Find the program a command names, with an error that says which path is wrong."""

from __future__ import annotations

import os
import shutil
import stat

from .errors import CommandSetupError


def find_executable(program: str, *, search_path: str, cwd: str | None) -> str:
    """The path of ``program``: as given when it contains a ``/`` (relative to ``cwd``),
    else the first executable of that name in ``search_path`` (the child's ``PATH``).

    :raises CommandSetupError: naming the path that is missing or not executable.
    """
    if "/" in program:
        path = program if os.path.isabs(program) else os.path.join(cwd or os.getcwd(), program)
        _check_executable(path)
        return path
    found = shutil.which(program, path=search_path)
    if found is not None:
        return found
    for directory in search_path.split(os.pathsep):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate):
            _check_executable(candidate)  # raises: which() would have returned it otherwise
    raise CommandSetupError(
        f"the executable {program!r} was not found in PATH ({search_path}); give its full "
        f"path, or set PATH in env"
    )


def _check_executable(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CommandSetupError(f"the executable {path!r} does not exist") from None
    except OSError as error:
        raise CommandSetupError(
            f"the executable {path!r} cannot be read: {error.strerror}"
        ) from None
    if stat.S_ISDIR(mode):
        raise CommandSetupError(f"the executable {path!r} is a directory, not a program")
    if not os.access(path, os.X_OK):
        raise CommandSetupError(
            f"the file {path!r} is not executable (mode {stat.filemode(mode)}); make it "
            f"executable with 'chmod +x {path}', or run it through its interpreter"
        )

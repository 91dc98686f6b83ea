"""Where STS keeps its files, per user (platformdirs): config, state, logs, sockets."""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platformdirs import PlatformDirs

APP = "sts"


class RuntimeDirectoryError(PermissionError):
    """The directory for control sockets cannot be used safely: the message names it and
    says what to do."""


def _dirs() -> PlatformDirs:  # platformdirs is imported on use: it is not needed to import sts
    import platformdirs

    return platformdirs.PlatformDirs(APP, appauthor=False)


def user_config_file() -> Path:
    """``<user config dir>/sts/config.ini``."""
    return Path(_dirs().user_config_dir) / "config.ini"


def state_database(scheduler_name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """The ``sqlite`` store's file: ``path`` if one is given (``[state] path``), else
    ``<user data dir>/sts/<scheduler name>.db``."""
    if path is None or (isinstance(path, str) and not path.strip()):
        return Path(_dirs().user_data_dir) / f"{scheduler_name}.db"
    return Path(path).expanduser()


def log_directory() -> Path:
    """``<user log dir>/sts``."""
    return Path(_dirs().user_log_dir)


def control_socket(scheduler_name: str) -> Path:
    """``<user runtime dir>/sts/<scheduler name>.sock``."""
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR (containers, cron, ssh without systemd) platformdirs
        # falls back to /tmp/runtime-<uid> and warns; the fallback is fine for a socket
        # (its directory is made 0700), and a warning on every command is noise.
        warnings.simplefilter("ignore")
        runtime = _dirs().user_runtime_dir
    check_socket_directory(Path(runtime))
    return Path(runtime) / f"{scheduler_name}.sock"


def check_socket_directory(directory: Path) -> None:
    """Refuse a socket directory that another user owns or may write to.

    Whoever owns the directory can replace the socket in it, and so answer for (or listen
    to) this user's scheduler; a directory made by another user (a shared ``/tmp`` fallback)
    would otherwise end ``sts run`` with a raw PermissionError at bind time.

    :raises RuntimeDirectoryError: naming the directory, its owner and what to do.
    """
    try:
        info = directory.lstat()
    except FileNotFoundError:
        parent = directory.parent
        if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
            raise RuntimeDirectoryError(
                f"cannot create the runtime directory {str(directory)!r}: {str(parent)!r} is "
                f"not writable by you; set XDG_RUNTIME_DIR to a directory of your own"
            ) from None
        return
    uid = os.geteuid()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory (a symbolic link or a file)"
    elif info.st_uid != uid:
        problem = f"is owned by {_user_name(info.st_uid)}, not by you ({_user_name(uid)})"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        problem = f"may be written by other users (mode {stat.S_IMODE(info.st_mode):o})"
    else:
        return
    raise RuntimeDirectoryError(
        f"the runtime directory {str(directory)!r} {problem}, so the control socket cannot "
        f"be kept safe in it; remove it (or chmod 700 it if it is yours), or set "
        f"XDG_RUNTIME_DIR to a directory of your own"
    )


def _user_name(uid: int) -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name!r} (uid {uid})"
    except KeyError:
        return f"uid {uid}"

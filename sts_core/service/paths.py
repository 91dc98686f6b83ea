"""Where STS keeps its files, per user (platformdirs): config, state, logs, sockets."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platformdirs import PlatformDirs

APP = "sts"


def _dirs() -> PlatformDirs:  # platformdirs is imported on use: it is not needed to import sts
    import platformdirs

    return platformdirs.PlatformDirs(APP, appauthor=False)


def user_config_file() -> Path:
    """``<user config dir>/sts/config.ini``."""
    return Path(_dirs().user_config_dir) / "config.ini"


def state_database(scheduler_name: str) -> Path:
    """``<user data dir>/sts/<scheduler name>.db``."""
    return Path(_dirs().user_data_dir) / f"{scheduler_name}.db"


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
    return Path(runtime) / f"{scheduler_name}.sock"

"""Where ``type = python`` jobs import their callables from: the config file's directory,
then the current directory, then the rest of ``sys.path`` (installed packages).

The config's directory comes first because the file names the callable: ``app.tasks:hello``
in ``/srv/jobs/sts.ini`` means ``/srv/jobs/app/tasks.py``, wherever ``sts`` is started.
Both stay importable while the scheduler runs, for the imports a job makes when it fires.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def callable_directories(config_path: Path | None) -> list[Path]:
    """The directories searched first, in order: the config file's, then the current one."""
    directories = [config_path.parent.absolute()] if config_path is not None else []
    current = Path(os.getcwd())
    if current not in directories:
        directories.append(current)
    return directories


def make_importable(directories: list[Path]) -> None:
    """Put ``directories`` at the front of ``sys.path``, in order, each once."""
    for directory in reversed(directories):
        text = str(directory)
        if text in sys.path:
            sys.path.remove(text)
        sys.path.insert(0, text)

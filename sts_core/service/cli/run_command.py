"""``sts run``: run the scheduler a config file describes, or one built in Python."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .context import CommandContext
from .errors import OK, CommandError

if TYPE_CHECKING:
    from ...scheduler import TaskScheduler

#: The command whose front end ``--tui`` attaches: the terminal UI of the plugin sts-tui.
FRONT_END = "tui"

NOTHING_TO_RUN = (
    "no config file and no jobs: nothing to run. Give a config file (sts run sts.ini), "
    "put one at ./sts.ini, or point STS_CONFIG at one; see sts demo for an example"
)

_PYTHON_OBJECT = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def is_python_object(target: str) -> bool:
    """Whether ``target`` reads as ``module:object`` rather than a config file's path."""
    return bool(_PYTHON_OBJECT.fullmatch(target)) and not Path(target).exists()


def load_python_scheduler(target: str) -> TaskScheduler:
    """The ``TaskScheduler`` object ``module:attribute`` names (the current directory is
    importable, as with ``python -m``).

    :raises CommandError: when it cannot be imported or is no ``TaskScheduler``.
    """
    from ...importing import import_object
    from ...scheduler import TaskScheduler

    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found = import_object(target)
    except ValueError as error:
        raise CommandError(str(error)) from None
    if not isinstance(found, TaskScheduler):
        raise CommandError(
            f"{target!r} is {type(found).__name__} {found!r}, not a TaskScheduler: point "
            f"at a scheduler built in Python, e.g. 'app.jobs:scheduler'"
        )
    return found


def run(args: argparse.Namespace) -> int:
    target: str | None = args.target
    if target is not None and is_python_object(target):
        scheduler = load_python_scheduler(target)
        if args.name:
            scheduler.name = args.name
        if scheduler.control_socket is None:
            scheduler.control_socket = True
        if scheduler.has_default_store:
            # Like `sts run CONFIG`: the embedded default keeps the history across restarts.
            from ..sqlite_store import open_sqlite_store

            scheduler.store = open_sqlite_store(scheduler.name)
        scheduler.blocking = True
    else:
        if target is not None and args.config is not None:
            raise CommandError(
                f"two config files given ({target} and --config {args.config}): give one"
            )
        context = CommandContext(args, config_path=target)
        # read_config: a typo in [scheduler] is reported with the jobs' problems, not alone
        config = context.read_config()
        if config.path is None and not config.job_names:
            # Idling forever with nothing to do helps nobody who forgot the file's name.
            raise CommandError(NOTHING_TO_RUN)
        from ..reload import reloadable_scheduler

        # SIGHUP and `sts reload` read the configuration again and apply the difference.
        scheduler = reloadable_scheduler(config, blocking=True, control_socket=True)
    try:
        if args.tui:
            return attach_front_end(scheduler, FRONT_END)
        scheduler.run()
    finally:
        scheduler.store.close()
    return OK


def attach_front_end(scheduler: TaskScheduler, name: str) -> int:
    """Run ``scheduler`` with the front end a plugin registered as command ``name``."""
    from ...plugins import PluginError
    from ..registries import commands

    registry = commands(scheduler.plugins)
    try:
        command = registry.get(name, needed_by="sts run --tui")
    except PluginError as error:
        raise CommandError(str(error)) from None
    if command.attach is None:
        raise CommandError(
            f"the command {name!r} of plugin {registry.plugin_of(name)!r} "
            f"cannot run attached to a scheduler (it registered no attach=)"
        )
    return command.attach(scheduler)

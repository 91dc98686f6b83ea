"""What the commands share: the configuration, the scheduler's name, its control socket,
and, when no scheduler runs, its jobs and state store read directly."""

from __future__ import annotations

import argparse
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import JOB_FAILED, CommandError

if TYPE_CHECKING:
    from ...store import StateStore
    from ..config import Config


class CommandContext:
    """The parsed global options and what they lead to, loaded on first use."""

    def __init__(self, args: argparse.Namespace, *, config_path: str | None = None) -> None:
        self.args = args
        self.config_path: str | None = config_path or getattr(args, "config", None)
        self.name_option: str | None = getattr(args, "name", None)
        self.log_level: str | None = getattr(args, "log_level", None)

    def overrides(self) -> dict[str, dict[str, str]]:
        """The command-line layer of the configuration."""
        layer: dict[str, dict[str, str]] = {}
        if self.name_option:
            layer.setdefault("scheduler", {})["name"] = self.name_option
        if self.log_level:
            layer.setdefault("logging", {})["level"] = self.log_level
        return layer

    @cached_property
    def config(self) -> Config:
        from ..config import load_config

        return load_config(self.config_path, overrides=self.overrides())

    def read_config(self) -> Config:
        """The configuration with the problems of its fixed sections kept, not raised
        (``sts check`` and ``sts config`` report them with the rest)."""
        from ..config.loading import read_config

        return read_config(self.config_path, overrides=self.overrides())

    @property
    def scheduler_name(self) -> str:
        if self.name_option:
            return self.name_option
        return str(self.config.scheduler_name)

    @property
    def control_path(self) -> Path:
        from ..paths import control_socket

        return control_socket(self.scheduler_name)

    # -- the running scheduler --------------------------------------------------------------

    def ask(self, command: str, **arguments: Any) -> dict[str, Any] | None:
        """The running scheduler's answer, or ``None`` when none listens.

        :raises CommandError: when the scheduler answers with an error (an unknown job).
        """
        from ..control import ControlError, request

        path = self.control_path
        if not path.exists():
            return None
        try:
            return request(path, command, **arguments)
        except (FileNotFoundError, ConnectionRefusedError):
            return None  # a socket file left by a scheduler that was killed
        except ControlError as error:
            raise CommandError(error.message) from None

    def must_ask(self, command: str, **arguments: Any) -> dict[str, Any]:
        """Like :meth:`ask`, for commands that need a running scheduler."""
        answer = self.ask(command, **arguments)
        if answer is None:
            raise CommandError(
                f"no scheduler named {self.scheduler_name!r} is running (nothing answers on "
                f"{self.control_path}); start it with `sts run`, or pick another with --name",
                JOB_FAILED,
            )
        return answer

    # -- reading without a running scheduler ------------------------------------------------

    def offline_store(self) -> StateStore | None:
        """The scheduler's stored state, or ``None`` when it has none yet.

        Only the ``sqlite`` store is read this way, and only when its file exists (reading
        creates nothing): other stores are servers the running scheduler answers for.
        """
        config = self.config
        if (config.value("scheduler", "state") or "sqlite").strip() != "sqlite":
            return None
        from ..paths import state_database

        if not state_database(self.scheduler_name, config.value("state", "path")).is_file():
            return None
        return config.open_store()
